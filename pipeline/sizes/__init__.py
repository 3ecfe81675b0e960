"""Per-paper sizes and counts for each scale (model widths, steps, batch sizes, sample counts).

One light module per paper (no torch import: the Snakefile reads these at parse time), merged
into the scale presets by ``pipeline.presets`` under the paper's key.
"""

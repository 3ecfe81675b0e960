"""vgan (Vondrick et al. 2016): what the graph needs to know, without torch.

So far the data only: the default graph cuts and stabilizes (VGAN mode) the UCF101 and Flickr
clips this paper reads; models, tables and figures are not built yet, so this spec declares no
models and no targets. ``REFERENCE`` holds the paper's numbers for the tables to come.
"""

from __future__ import annotations

PAPER = "vgan"
SIZES: dict[str, dict] = {}
"""No model sizes yet (the clip sizes are the presets' ``clips.vgan``)."""
CLIP_SETS: tuple[tuple[str, str], ...] = (("ucf101", "vgan"), ("flickr", "vgan"))

REFERENCE: dict[str, dict[str, dict[str, float]]] = {
    # Vondrick et al., Table 1: human 2AFC preference (%), mean over scenes.
    "vgan_preference": {
        "two-stream over AE": {"preference": 82},
        "one-stream over AE": {"preference": 82},
        "two-stream over one-stream": {"preference": 53},
        "two-stream over real": {"preference": 18},
        "one-stream over real": {"preference": 16},
        "AE over real": {"preference": 3},
    },
    # Vondrick et al., Fig. 4a: UCF101 accuracy (%).
    "ucf101_action_accuracy": {
        "chance": {"accuracy": 0.9},
        "STIP": {"accuracy": 43.9},
        "temporal coherence": {"accuracy": 45.4},
        "shuffle and learn": {"accuracy": 50.2},
        "VGAN + random init": {"accuracy": 36.7},
        "VGAN + logistic regression": {"accuracy": 49.3},
        "VGAN + fine-tune": {"accuracy": 52.1},
        "ImageNet supervision": {"accuracy": 91.4},
    },
}
"""The paper's numbers, table -> row -> column -> value, as printed."""

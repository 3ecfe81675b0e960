# video-futures: raw videos -> every table and figure of five video-forecasting papers.
# A table of contents: each stage lives in workflow/rules/<stage>.smk and pipeline/<stage>.py.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/hooks.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/clips.smk"
include: "workflow/rules/stabilize.smk"
include: "workflow/rules/flow.smk"
include: "workflow/rules/trajectories.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/walker.smk"
include: "workflow/rules/walker_detection.smk"
include: "workflow/rules/staticflow.smk"
include: "workflow/rules/svg.smk"
include: "workflow/rules/crossconv.smk"
include: "workflow/rules/vgan.smk"
include: "workflow/rules/seeds.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        all_targets(),
    default_target: True


# Stage targets: `snakemake clips` builds every manifest and clip shard, `snakemake preprocess`
# everything up to stabilized clips, flow and trajectories.
rule clips:
    input:
        clip_targets(),


rule preprocess:
    input:
        clip_targets() + preprocessing_targets(),

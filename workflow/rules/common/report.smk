# Functions of report.smk (Snakemake's lint: functions apart from rules): the report marks of every
# rule included before it.
import re

from snakemake.io import get_flag_value, is_flagged, strip_wildcard_constraints


def _check_marks():
    """Every output marked report() has a caption file that exists and a category (refused at parse time)."""
    for rule_ in workflow.rules:
        for output in rule_.output:
            if not is_flagged(output, "report"):
                continue
            mark = get_flag_value(output, "report")
            caption = mark.caption and Path(mark.caption.get_path_or_uri(secret_free=False))
            if caption is None or not caption.is_file():
                raise ValueError(f"report output {output} of rule {rule_.name!r} has no caption file ({caption})")
            if not mark.category:
                raise ValueError(f"report output {output} of rule {rule_.name!r} has no category")


def _outputs_shown_as_pages():
    """(rule, name suffix, output pattern, its report mark) of every marked output the report cannot display."""
    for rule_ in list(workflow.rules):
        marked = [o for o in rule_.output if is_flagged(o, "report") and report_views.needs_page(str(o))]
        for output in marked:
            # several marked outputs of one rule: the page rule is named after the file (its fixed part)
            fixed = re.sub(r"\{[^}]*\}", "", Path(strip_wildcard_constraints(str(output))).stem).strip("_")
            yield rule_, (f"_{fixed}" if len(marked) > 1 else ""), str(output), get_flag_value(output, "report")

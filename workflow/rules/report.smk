# Stage: report pages. Snakemake's report displays images, HTML and PDF but offers a CSV table, a GIF
# or an MP4 only as a download; every such result marked report() in the rule files above also gets a
# page that shows it (pipeline/report_views.py), with the same caption and category, so the report
# shows our numbers beside the paper's. One small local rule per marked output, made from the marks
# themselves: a new table or GIF gets its page without a line here. Include this file last.
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
                raise ValueError(f"rule {rule_.name}: report output {output} has no caption file ({caption})")
            if not mark.category:
                raise ValueError(f"rule {rule_.name}: report output {output} has no category")


_check_marks()


def _outputs_shown_as_pages():
    """(rule, name suffix, output pattern, its report mark) of every marked output the report cannot display."""
    for rule_ in list(workflow.rules):
        marked = [o for o in rule_.output if is_flagged(o, "report") and report_views.needs_page(str(o))]
        for output in marked:
            # several marked outputs of one rule: the page rule is named after the file (its fixed part)
            fixed = re.sub(r"\{[^}]*\}", "", Path(strip_wildcard_constraints(str(output))).stem).strip("_")
            yield rule_, (f"_{fixed}" if len(marked) > 1 else ""), str(output), get_flag_value(output, "report")


for _rule, _suffix, _pattern, _mark in list(_outputs_shown_as_pages()):
    _plain = strip_wildcard_constraints(_pattern)
    _stem = Path(_plain).name  # its wildcards name the log and benchmark of each job

    rule:
        name:
            f"page_{_rule.name}{_suffix}"
        input:
            _plain,
        output:
            report(str(report_views.page_path(_pattern, RESULTS)),
                   caption=_mark.caption.get_path_or_uri(secret_free=False),
                   category=_mark.category, subcategory=_mark.subcategory),
        params:
            paper_column=_mark.category in papers.PAPERS,  # a paper's table must show the paper's numbers
        localrule: True
        log:
            LOGS / f"page_{_rule.name}{_suffix}" / f"{_stem}.log",
        benchmark:
            BENCHMARKS / f"page_{_rule.name}{_suffix}" / f"{_stem}.tsv",
        script:
            "../scripts/report_page.py"

# Stage: report pages. Snakemake's report displays images, HTML and PDF but offers a CSV table, a GIF
# or an MP4 only as a download; every such result marked report() in the rule files above also gets a
# page that shows it (pipeline/report_views.py), with the same caption and category, so the report
# shows our numbers beside the paper's. One small local rule per marked output, made from the marks
# themselves: a new table or GIF gets its page without a line here. Include this file last.
include: "common/report.smk"


_check_marks()


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

"""Dashboard pages: short views that validate their parameters, call one selector and render.

No view computes a statistic: results, flags and limits come from the
computation runs, and the numbers, sentences and figure specifications from
the pieces built once per run (one module per page in dashboards/pages/, built by
dashboards/services.py, read by dashboards/selectors/). Every table can be
downloaded as CSV with ``?download=<table>`` (its schema beside the piece it
lists), with the same suppression as the page.

One module per group of pages (dashboards/urls.py names each view by its module): :mod:`.base` (what every
page shares), :mod:`.home` (home, search, an audit), :mod:`.indicator` (indicator, trend, flag check),
:mod:`.trust`, :mod:`.alliance`, :mod:`.releases` (changes, data quality), :mod:`.funnel` and :mod:`.outliers`.
"""

"""Chart specifications: data in, plain dicts out, one module a chart.

Pure: no Django and no database. The Plotly figures are JSON-ready
``{"data": [...], "layout": {...}}`` dicts handed to ``Plotly.newPlot`` in the
browser (plotly.js-basic: scatter and bar traces only), which draws every chart with one
configuration (``PLOTLY_CONFIG`` in static/dashboards/dashboards.js); the small multiples of
the trust dashboard (spread and trend) are geometry for inline SVG, which
needs no script. Built once per computation run (dashboards/services.py),
never per request.

- :mod:`~dashboards.figures.layout`: the font, colours and layout every figure shares;
- :mod:`~dashboards.figures.funnel`: the funnel plot;
- :mod:`~dashboards.figures.xmr`: the XmR chart of a trend and its points' words;
- :mod:`~dashboards.figures.vlad`: the VLAD chart of observed minus expected events;
- :mod:`~dashboards.figures.checks`: completeness by column, and a risk model's calibration;
- :mod:`~dashboards.figures.svg`: the trust dashboard's spine, markers and sparklines (inline SVG).

The pages use them as ``figures.<name>``, so this package names them all.
"""

from dashboards.figures.checks import calibration_figure, completeness_figure
from dashboards.figures.funnel import funnel_figure
from dashboards.figures.svg import SPINE_WIDTH, marker_path, sparkline, spine
from dashboards.figures.vlad import vlad_figure
from dashboards.figures.xmr import RULE_WORDS, SPC_LABELS, xmr_figure

__all__ = [
    "RULE_WORDS",
    "SPC_LABELS",
    "SPINE_WIDTH",
    "calibration_figure",
    "completeness_figure",
    "funnel_figure",
    "marker_path",
    "sparkline",
    "spine",
    "vlad_figure",
    "xmr_figure",
]

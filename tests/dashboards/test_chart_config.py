"""Charts send nothing anywhere: one Plotly configuration for every chart, without Plotly's cloud ("Share chart")
or Chart Studio buttons and without a server to send to; the PNG download stays. tests/browser/ checks the charts
as drawn on every page type; this checks the source, fast."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "static" / "dashboards" / "dashboards.js"
CONFIG_KEYS = re.compile(r"displaylogo|modeBarButtons|showSendToCloud|plotlyServerURL|showEditInChartStudio|showLink")
DRAWS = re.compile(r"Plotly\.(newPlot|react|plot|update|restyle|relayout)\s*\(")


def shared_config() -> dict:
    text = SCRIPT.read_text(encoding="utf-8")
    found = re.search(r"/\* plotly-config \*/(.*?)/\* end plotly-config \*/", text, re.S)
    assert found, "the shared Plotly configuration is written as JSON between the plotly-config markers"
    return json.loads(found.group(1))


def our_sources() -> list[Path]:
    """Every file of ours that could configure or draw a chart: Python, templates and scripts (not vendored)."""
    files = [
        p
        for app in ("accounts", "api", "audits", "cancerplan", "dashboards", "indicators")
        for p in (ROOT / app).rglob("*.py")
    ]
    files += list((ROOT / "templates").rglob("*.html"))
    files += [p for p in (ROOT / "static").rglob("*.js") if "vendor" not in p.parts]
    return sorted(files)


def test_the_shared_configuration_sends_nothing_and_keeps_the_png_download() -> None:
    config = shared_config()
    assert config["displaylogo"] is False  # the logo links to plotly.com
    assert config["showSendToCloud"] is False  # plotly.js 4 shows "Share chart..." unless told not to
    assert config["plotlyServerURL"] == ""  # and, should a button come back, it has nowhere to send
    removed = config["modeBarButtonsToRemove"]
    assert {"sendChartToCloud", "sendDataToCloud", "editInChartStudio"} <= set(removed)
    assert "toImage" not in removed and "toImage" not in config.get("modeBarButtons", [])
    assert not any(key in config for key in ("showLink", "sendData", "showEditInChartStudio", "linkText"))


def test_the_vendored_plotly_knows_the_names_the_configuration_uses() -> None:
    """A re-vendored plotly.js whose cloud button has another name would keep it: the test names it."""
    bundle = next((ROOT / "static" / "vendor").glob("plotly.js-*/plotly-*.min.js")).read_text(encoding="utf-8")
    cloud_buttons = set(re.findall(r'name:"(\w*(?:Cloud|Studio)\w*)"', bundle))
    assert cloud_buttons and cloud_buttons <= set(shared_config()["modeBarButtonsToRemove"]), cloud_buttons
    assert "showSendToCloud:{" in bundle and "plotlyServerURL:{" in bundle


def test_plotly_is_configured_in_one_place_and_every_chart_is_drawn_with_it() -> None:
    configures = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in our_sources()
        if path != SCRIPT
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if CONFIG_KEYS.search(line)
    ]
    assert configures == [], "Plotly options outside the shared configuration"
    draws = [(path, match) for path in our_sources() for match in DRAWS.finditer(path.read_text(encoding="utf-8"))]
    assert draws, "the charts are drawn somewhere"
    for path, match in draws:
        assert path == SCRIPT, f"{path.relative_to(ROOT)} draws a chart outside dashboards.js"
        call = path.read_text(encoding="utf-8")[match.start() : match.start() + 200].split(";")[0]
        if match.group(1) in ("newPlot", "react", "plot"):
            assert re.search(r",\s*config\(el\)\)", call), call
    assert "spec.config" not in SCRIPT.read_text(encoding="utf-8")  # stored figures of old runs carry one

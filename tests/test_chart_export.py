"""Every chart on every page (through ui.page.chart): the camera saves PNG or SVG as the sidebar says (plotly.js's
own client-side export), and a button downloads the chart as standalone interactive HTML."""

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
# /generate and /train draw their charts only after a button press (their own tests press it); every other page,
# including one added later, is checked here
ON_PRESS = {"generate.py", "train.py"}
PAGES = sorted(p.name for p in (ROOT / "pages").glob("*.py") if p.name not in ON_PRESS)


def configs(at):  # -> list[dict]: the plotly config of every chart on the page
    return [json.loads(chart.proto.config) for chart in at.get("plotly_chart")]


@pytest.mark.parametrize("page", PAGES)
def test_every_chart_saves_png_or_svg_and_offers_interactive_html(page):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.run()
    at.switch_page(f"pages/{page}").run()
    assert not at.exception, at.exception
    charts = configs(at)
    assert charts, f"{page} shows no chart"
    assert [c["toImageButtonOptions"]["format"] for c in charts] == ["png"] * len(charts)
    assert all(c["toImageButtonOptions"]["scale"] == 2 for c in charts)
    html = [b for b in at.get("download_button") if b.proto.label == "Interactive HTML"]
    assert len(html) == len(charts)  # one per chart, each a button (never a link)
    assert len({b.proto.id for b in html}) == len(html)

    at.segmented_control(key="image_format").set_value("svg").run()
    assert not at.exception, at.exception
    charts = configs(at)
    assert [c["toImageButtonOptions"]["format"] for c in charts] == ["svg"] * len(charts)
    names = [c["toImageButtonOptions"]["filename"] for c in charts]
    assert all(names) and len(set(names)) == len(names)  # each file says which chart it is
    assert "image_format" not in at.query_params  # a download choice, not part of the view's link

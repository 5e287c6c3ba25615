"""A chart's exports in a real browser: the camera saves PNG, or SVG once the sidebar says so (plotly.js, in the
browser), and "Interactive HTML" downloads a page that opens offline and draws the same chart."""

import pytest

pytestmark = pytest.mark.browser

CHART = ".js-plotly-plot"


def camera_download(page):  # -> Download: a click on the first chart's camera
    chart = page.locator(CHART).first
    chart.hover()
    with page.expect_download(timeout=30_000) as info:
        chart.locator('.modebar-btn[data-title^="Download plot"]').click()
    return info.value


def test_camera_saves_png_then_svg_and_html_opens_offline(page, server, tmp_path, screenshots):
    page.goto(server)
    page.wait_for_selector(f"{CHART} .main-svg", timeout=90_000)
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=60_000)
    png = camera_download(page)
    assert png.suggested_filename.endswith(".png")
    assert open(png.path(), "rb").read(4) == b"\x89PNG"

    choice = page.locator('[data-testid="stSidebar"] [data-testid="stButtonGroup"]').filter(has_text="SVG")
    choice.get_by_text("SVG", exact=True).click()
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=60_000)
    page.wait_for_timeout(500)  # the chart takes its new config
    svg = camera_download(page)
    assert svg.suggested_filename.endswith(".svg")
    text = open(svg.path(), encoding="utf-8").read()
    assert text.lstrip().startswith("<svg") and "apple" in text
    page.screenshot(path=str(screenshots / "chart-export-overview.png"), full_page=True)

    with page.expect_download(timeout=60_000) as info:
        page.get_by_role("button", name="Interactive HTML").first.click()
    html = info.value
    assert html.suggested_filename.endswith(".html")
    saved = tmp_path / html.suggested_filename
    html.save_as(saved)
    assert saved.stat().st_size > 1_000_000  # plotly.js is inside

    offline = page.context.new_page()
    blocked = []
    offline.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else (
        blocked.append(r.request.url), r.abort()))  # fmt: skip
    offline.goto(saved.as_uri())
    offline.wait_for_selector(".main-svg .hm image", timeout=30_000)
    assert "apple" in offline.locator(".xtick text").evaluate_all("ts => ts.map(t => t.textContent)")
    assert not blocked, blocked
    assert not page.errors, page.errors

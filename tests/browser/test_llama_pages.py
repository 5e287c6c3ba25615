"""Every page with a tiny random Llama served as "smollm2" in a real browser: no exception box, no console error,
screenshots under artifacts/screenshots/llama-*.png; on the Overview the prediction follows a changed word."""

import os
from urllib.parse import urlencode

import pytest

from bench.browser import DASHBOARD, serve
from tests.browser.test_pages import CHART, CLIPPED, EXCEPTION, open_page, shoot

pytestmark = pytest.mark.browser
pytest.importorskip("transformers")
PATHS = ["", "scores", "heads", "pull", "steps", "compare", "flow", "geometry"]
TEXT = "The animal didn't cross the street because it was too tired"
TOP_BAR = f"""() => {{  // the first label of the horizontal bar chart (the top prediction), or null
  for (const gd of document.querySelectorAll('{CHART}'))
    if (gd._fullData[0].orientation === 'h') return gd._fullData[0].y[0];
  return null;
}}"""


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):  # -> base URL of a dashboard that serves a tiny random Llama as smollm2
    from tiny_served import tiny_decoder

    folder = tiny_decoder(tmp_path_factory.mktemp("tiny") / "llama")
    os.environ["ATTENTION_MODEL_DIR_SMOLLM2"] = str(folder)  # the server copies the environment when it starts
    try:
        with serve(DASHBOARD, log_name="server-llama-tests.log") as (url, _):
            del os.environ["ATTENTION_MODEL_DIR_SMOLLM2"]
            yield url
    finally:
        os.environ.pop("ATTENTION_MODEL_DIR_SMOLLM2", None)


@pytest.mark.parametrize("path", PATHS, ids=[p or "overview" for p in PATHS])
def test_page_renders_with_a_tiny_llama(llama_server, page, screenshots, path):
    open_page(page, f"{llama_server}/{path}?{urlencode({'model': 'smollm2', 'text': TEXT, 'layer': 1})}")
    page.wait_for_timeout(500)
    assert page.locator(EXCEPTION).count() == 0
    assert page.evaluate(CLIPPED) == []  # no tick label or axis title cut off (the new bars and panels too)
    shoot(page, screenshots / f"llama-{path or 'overview'}.png")
    if path == "steps":  # the norms and the MLP, in their own tab
        page.get_by_role("tab", name="Norms and MLP").click()
        page.get_by_text("Inside layer 1").wait_for(timeout=60_000)
        page.wait_for_selector('[data-test-script-state="notRunning"]', timeout=60_000)
        page.wait_for_timeout(800)
        assert page.locator(EXCEPTION).count() == 0 and page.evaluate(CLIPPED) == []
        shoot(page, screenshots / "llama-steps-trace.png")
    assert page.errors == [], f"console errors on /{path}: {page.errors}"


def test_overview_prediction_follows_a_changed_word(llama_server, page):
    open_page(page, f"{llama_server}/?{urlencode({'model': 'smollm2', 'text': TEXT})}", charts=2)
    page.wait_for_function(f"({TOP_BAR})() !== null", timeout=30_000)
    before = page.evaluate(TOP_BAR)
    box = page.get_by_label("Sentence", exact=True)
    box.fill(TEXT.replace("tired", "wide"))
    box.press("Control+Enter")
    page.wait_for_function(f"({TOP_BAR})() !== null && ({TOP_BAR})() !== {before!r}", timeout=60_000)
    assert page.evaluate(TOP_BAR) != before

"""The most dangerous inputs in a real browser: script injection (typed and in the link), a huge paste, hostile
links. No script the user wrote ever runs: the payloads set window.__pwned, which must stay undefined."""

from urllib.parse import quote, urlencode, urlparse

import pytest

pytestmark = pytest.mark.browser

CHART = ".js-plotly-plot"
EXCEPTION = '[data-testid="stException"]'
ALERT = '[data-testid="stAlert"]'
PAYLOAD = (
    '<script>window.__pwned=1</script> <img src=x onerror="window.__pwned=1"> <svg onload="window.__pwned=1"> '
    "[click](javascript:window.__pwned=1) ![i](https://evil.example/i.png) $x^2$ :red[red] the cat"
)
PWNED = "typeof window.__pwned"


def settle(page, timeout=90_000):  # wait until a chart is drawn and the app has stopped running
    page.wait_for_selector(CHART, state="visible", timeout=timeout)
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=timeout)


def watch_requests(page):  # -> list of request URLs the page makes (nothing may go to evil.example)
    urls = []
    page.on("request", lambda r: urls.append(r.url))
    return urls


def chart_strings(page):  # -> every string in every chart's traces (x, y, text, hovertext) as plotly.js holds them
    return page.evaluate(
        f"""() => Array.from(document.querySelectorAll('{CHART}')).flatMap(gd => gd.data.flatMap(
            t => [t.x, t.y, t.text, t.hovertext].flatMap(a => (a && typeof a !== 'string' ? Array.from(a) : [a])).flat()))
            .filter(v => typeof v === 'string')"""
    )


def hover_first_chart(page):  # make plotly draw a hover label (token names in it)
    box = page.locator(CHART).first.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_timeout(300)


def assert_nothing_ran(page, urls):
    assert page.evaluate(PWNED) == "undefined", "a script from the user's text ran"
    assert page.locator(EXCEPTION).count() == 0
    assert page.evaluate("document.querySelectorAll('img[src=\"x\"], svg[onload], img[onerror]').length") == 0
    assert page.locator(f"{ALERT} .katex").count() == 0, "user text was typeset as LaTeX"
    assert not [u for u in urls if urlparse(u).hostname == "evil.example"], "the page fetched a URL from user text"


@pytest.mark.parametrize("path", ["", "scores", "pull"])
def test_script_in_the_link_does_not_run(server, page, path):
    urls = watch_requests(page)
    query = {"text": PAYLOAD} | ({"token": "< (0)"} if path == "pull" else {})  # past 64 tokens /pull labels
    page.goto(f"{server}/{path}?{urlencode(query)}")  # only the token it follows: make that one a "<"
    settle(page)
    hover_first_chart(page)
    assert_nothing_ran(page, urls)
    labels = " ".join(chart_strings(page))
    assert "script" in labels and "&lt;" in labels  # the tokens are there, escaped for plotly
    shown = page.evaluate(f"() => Array.from(document.querySelectorAll('{CHART} text'), t => t.textContent).join(' ')")
    assert "<" in shown  # ... and plotly shows "<" as the character typed
    assert page.get_by_role("textbox", name="Sentence", exact=True).input_value() == PAYLOAD
    assert page.errors == []


def test_script_typed_into_the_sidebar_does_not_run(server, page):
    urls = watch_requests(page)
    page.goto(f"{server}/scores")
    settle(page)
    box = page.get_by_role("textbox", name="Sentence", exact=True)
    box.fill(PAYLOAD)
    box.press("Control+Enter")
    page.wait_for_function(
        f"() => Array.from(document.querySelector('{CHART}').data[0].x).some(t => t.startsWith('script'))",
        timeout=60_000,
    )
    settle(page)
    hover_first_chart(page)
    assert_nothing_ran(page, urls)
    assert "script" in page.url  # the link carries the text, encoded
    assert page.errors == []


def test_huge_paste_is_capped_and_said(server, page):
    """The box takes at most 4,000 characters (Streamlit rejects a longer paste in the browser and cuts it on the
    server: see tests/test_robust_text.py); 2,000 characters of punctuation are 1,000 tokens, over the lecture model's cap."""
    page.goto(f"{server}/")
    settle(page)
    box = page.get_by_role("textbox", name="Sentence", exact=True)
    box.fill("! " * 1000)
    box.press("Control+Enter")
    page.locator(ALERT, has_text="first 512").wait_for(timeout=150_000)  # the lecture model's token cap, said
    settle(page, timeout=150_000)
    assert page.evaluate(f"() => document.querySelector('{CHART}').data[0].x.length") == 512
    assert page.locator(EXCEPTION).count() == 0
    assert page.errors == []


def test_hostile_link_falls_back_with_notices(server, page):
    urls = watch_requests(page)
    query = "&".join(
        [
            "model=" + quote("https://evil.example/model.safetensors", safe=""),
            "layer=" + quote("../../etc/passwd", safe=""),
            "temperature=1e400",
            "similarity=" + quote("$x^2$", safe=""),
            "causal=1&causal=0",
            quote("![i](https://evil.example/k.png)", safe="") + "=1",
            quote('<img src=x onerror="window.__pwned=1">', safe="") + "=1",
        ]
    )
    page.goto(f"{server}/scores?{query}")
    settle(page)
    alerts = " ".join(page.locator(ALERT).all_inner_texts())
    for key in ("model", "layer", "temperature", "similarity", "causal"):
        assert key in alerts, f"no notice for {key}: {alerts}"
    page.wait_for_timeout(500)  # the unknown-keys toast
    assert_nothing_ran(page, urls)
    for bad in ("evil", "passwd", "1e400", "causal", "img"):
        assert bad not in page.url, page.url  # the link now holds only valid, non-default settings
    assert page.errors == []

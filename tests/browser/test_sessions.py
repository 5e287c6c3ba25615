"""Two viewers at once: two browser contexts on one server, each with its own settings, changed at the same
time, never see each other's sentence, settings, link or numbers."""

import base64
from urllib.parse import urlencode

import numpy as np
import pytest

from attention import registry
from attention.run import stages

pytestmark = pytest.mark.browser

CHART = ".js-plotly-plot"
VIEWS = {
    "a": dict(text="the cat sat on the mat", temperature="2.0", stage="weights"),
    "b": dict(text="the bank of the river", similarity="cosine", causal="true", stage="weights"),
}
NEXT = {"a": "a dog ate a banana", "b": "money in the bank"}


def settle(page):
    page.wait_for_selector(CHART, state="visible", timeout=90_000)
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=90_000)


def z_of(page):  # -> the weights heatmap plotly.js is drawing (a nested array, or plotly's base64 typed array)
    z = page.evaluate(
        f"""() => {{ const z = document.querySelector('{CHART}').data[0].z;
            return z.bdata ? z : Array.from(z, r => Array.from(r, v => (v === null ? NaN : v))); }}"""
    )
    if isinstance(z, dict):
        shape = [int(n) for n in str(z["shape"]).split(",")]
        return np.frombuffer(base64.b64decode(z["bdata"]), dtype=z["dtype"]).reshape(shape).astype(np.float64)
    return np.array(z, dtype=np.float64)


def expected(text, view):  # -> the backend's weights for this view, layer 0 head 0
    run = registry.run(
        registry.LECTURE,
        text,
        temperature=float(view.get("temperature", 1.0)),
        similarity=view.get("similarity", "dot"),
        causal=view.get("causal") == "true",
    )
    return stages(run, 0, 0).weights[0]


def test_two_sessions_never_mix(server, page, fresh_page):
    pages = {"a": page, "b": fresh_page}
    for name, pg in pages.items():
        pg.goto(f"{server}/scores?{urlencode(VIEWS[name])}")
    for pg in pages.values():
        settle(pg)
    for name, pg in pages.items():
        np.testing.assert_allclose(z_of(pg), expected(VIEWS[name]["text"], VIEWS[name]), rtol=1e-4, atol=1e-6)

    # Both type a new sentence at the same moment: the two reruns overlap on the server.
    boxes = {name: pg.get_by_role("textbox", name="Sentence", exact=True) for name, pg in pages.items()}
    for name in pages:
        boxes[name].fill(NEXT[name])
    for name in pages:
        boxes[name].press("Control+Enter")
    for name, pg in pages.items():
        first = NEXT[name].split()[0]
        pg.wait_for_function(f"() => document.querySelector('{CHART}').data[0].x[0].startsWith('{first}')", timeout=60_000)  # fmt: skip
        settle(pg)

    for name, pg in pages.items():
        other = "b" if name == "a" else "a"
        np.testing.assert_allclose(z_of(pg), expected(NEXT[name], VIEWS[name]), rtol=1e-4, atol=1e-6)
        assert boxes[name].input_value() == NEXT[name]
        assert NEXT[other].split()[-1] not in pg.url and VIEWS[other]["text"].split()[-1] not in pg.url
        for key in set(VIEWS[name]) - {"text", "stage"}:
            assert f"{key}={VIEWS[name][key]}" in pg.url  # each keeps its own settings in its own link
        for key in set(VIEWS[other]) - set(VIEWS[name]):
            assert f"{key}=" not in pg.url
        assert pg.errors == []

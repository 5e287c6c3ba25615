"""/generate in Chromium on tiny random checkpoints in named folders (smollm2: a Llama, gpt2: a GPT-2): a link
regenerates the same text in a fresh context, the Generate button streams and writes gen=1 into the link, and an
encoder gets a message. Screenshots go to artifacts/screenshots/generate-*.png."""

import os
import re

import pytest

from bench.browser import DASHBOARD, serve
from tests.browser.conftest import SCREENSHOTS

pytest.importorskip("transformers")

LINK = "/generate?model=smollm2&text=She+sat+on+the+bank&new=12&mode=sample&temp=1.5&top_k=20&seed=3&step=6&gen=1"


@pytest.fixture(scope="module")
def tiny_server(tmp_path_factory):  # -> base URL of a dashboard that finds the tiny checkpoints by env var
    from tests.tiny_models import build, gpt2_lm

    root = tmp_path_factory.mktemp("tiny-browser")
    (root / "gpt2").mkdir()
    gpt2_lm(root / "gpt2")
    env = {"ATTENTION_MODEL_DIR_SMOLLM2": str(build("llama-gqa-untied-llama3", "float32", root)[1].path),
           "ATTENTION_MODEL_DIR_GPT2": str(root / "gpt2")}  # fmt: skip
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the server inherits them
    try:
        with serve(DASHBOARD, log_name="server-generate-tests.log") as (url, _):
            yield url
    finally:
        for k, v in old.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)


def generated(page):  # -> the bold generated text under the prompt
    page.wait_for_selector("text=KV cache at step", timeout=120_000)
    return page.locator("[data-testid='stMarkdownContainer'] strong").last.inner_text()


def test_a_link_regenerates_the_same_text_in_a_fresh_browser(tiny_server, browser):
    texts = []
    for i in range(2):
        ctx = browser.new_context(viewport={"width": 1440, "height": 1000})
        page = ctx.new_page()
        page.goto(tiny_server + LINK)
        texts.append(generated(page))
        assert page.locator(".stPlotlyChart").count() == 4
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"generate-link-{i}.png"))
        ctx.close()
    assert texts[0] and texts[0] == texts[1]


def test_the_button_generates_and_an_encoder_gets_a_message(tiny_server, context):
    page = context.new_page()
    page.goto(tiny_server + "/generate?model=gpt2&text=She+sat+on+the+river&new=8")
    page.wait_for_selector("text=Press Generate", timeout=120_000)
    page.get_by_role("button", name="Generate").click()
    assert generated(page)
    page.wait_for_url(re.compile(r"gen=1"), timeout=30_000)
    page.goto(tiny_server + "/generate?model=minilm")
    page.wait_for_selector("text=minilm is an encoder", timeout=120_000)

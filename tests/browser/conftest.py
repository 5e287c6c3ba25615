"""A live `streamlit run app.py` on 127.0.0.1 and Debian's Chromium driven by Playwright (never `playwright install`)."""

import os
import re
from pathlib import Path

import pytest

from bench.browser import CHROMIUM, CHROMIUM_ARGS, DASHBOARD, serve  # one copy of the server and the flags

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"


@pytest.fixture(scope="session")
def server():  # -> base URL of a live dashboard (its log: bench/reports/server-tests.log)
    with serve(DASHBOARD, log_name="server-tests.log") as (url, _):
        yield url


@pytest.fixture(scope="session")
def browser(playwright):  # one Chromium for the browser tests, from the run's one Playwright (tests/conftest.py)
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"Chromium not found at {CHROMIUM}; scripts/setup.sh --dev installs it")
    b = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield b
    b.close()


@pytest.fixture
def context(browser):  # a fresh browser context: no cookies, no session, like opening a link on another machine
    ctx = browser.new_context(viewport={"width": 1440, "height": 1000})
    yield ctx
    ctx.close()


# Opened directly on /scores, Streamlit's frontend first probes /scores/_stcore/health and .../host-config,
# gets a 404, and falls back to the root. That is Streamlit's own base-path discovery, not a fault of ours.
PROBE = re.compile(r"/[^/]+/_stcore/(health|host-config)$")


def watch(pg):  # record console errors in pg.errors, minus the 404s of Streamlit's own path probes
    pg.errors, probes = [], []
    pg.on("response", lambda r: probes.append(r.url) if r.status == 404 and PROBE.search(r.url) else None)

    def on_console(message):
        if message.type != "error":
            return
        if "404" in message.text and probes:
            probes.pop()
            return
        pg.errors.append(message.text)

    pg.on("console", on_console)
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    return pg


@pytest.fixture
def page(context):  # a page that records console errors in page.errors
    yield watch(context.new_page())


@pytest.fixture
def fresh_page(browser):  # a second, unrelated browser context: like opening a shared link on another machine
    ctx = browser.new_context(viewport={"width": 1440, "height": 1000})
    yield watch(ctx.new_page())
    ctx.close()


@pytest.fixture(scope="session")
def screenshots():  # -> Path
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS

"""Shared test setup. With CI=true a skipped test fails the run: CI installs everything the suite needs."""

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def pytest_sessionfinish(session, exitstatus):
    if os.environ.get("CI", "").lower() != "true":
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped:
        reporter.write_line(f"CI=true: {len(skipped)} test(s) were skipped; CI must run everything", red=True)
        session.exitstatus = 1


@pytest.fixture(scope="session")
def playwright():
    """One Playwright for the whole run: a second sync_playwright() in the same process fails
    ("using Playwright Sync API inside the asyncio loop"), so every browser test shares this one."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is a dev dependency")
    with sync_api.sync_playwright() as p:
        yield p

"""Concurrency benchmark: N browser sessions open the dashboard at once, like a class following a shared link.

    python -m bench.concurrency [--sessions 30] [--browsers 3]

Each session is its own browser context (no shared cookies or cache), spread over a few Chromium processes.
Reports p50/p95 time to the first chart and to every chart, errors (timeouts, page errors, exception boxes),
and the Streamlit server's resident memory before the sessions, with all of them open, and per extra session.
"""

import argparse
import asyncio
import json
import time

from bench.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    DASHBOARD,
    DRAWN,
    EXCEPTION,
    FIRST_DRAWN,
    VIEWPORT,
    percentiles,
    rss_mb,
    serve,
    url_for,
)

TIMEOUT_MS = 180_000


async def open_session(browser, url, start_gate):  # -> dict: first/all seconds, or the error
    """One student: a fresh context opens the link when the gate opens; the context stays open afterwards."""
    ctx = await browser.new_context(viewport=VIEWPORT)
    page = await ctx.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    await start_gate.wait()
    start = time.perf_counter()
    result = dict(ctx=ctx, first=None, all=None, errors=errors)
    try:
        await page.goto(url, wait_until="commit", timeout=TIMEOUT_MS)
        await page.wait_for_function(FIRST_DRAWN, timeout=TIMEOUT_MS)
        result["first"] = time.perf_counter() - start
        await page.wait_for_function(DRAWN, arg=1, timeout=TIMEOUT_MS)
        result["all"] = time.perf_counter() - start
        if await page.locator(EXCEPTION).count():
            errors.append("exception box on the page")
    except Exception as err:  # noqa: BLE001 - a session that fails is counted and reported, not fatal
        errors.append(f"{type(err).__name__}: {str(err).splitlines()[0][:160]}")
    return result


async def crowd(url, pid, sessions, n_browsers):  # -> dict
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browsers = [await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS) for _ in range(n_browsers)]
        warm = await open_session(browsers[0], url, _open_gate())  # one visit first: caches and imports are warm
        await warm["ctx"].close()
        rss_before = rss_mb(pid)
        gate = asyncio.Event()
        tasks = [asyncio.create_task(open_session(browsers[i % n_browsers], url, gate)) for i in range(sessions)]
        await asyncio.sleep(0.5)  # every context is created before the gate opens, so they start together
        gate.set()
        results = await asyncio.gather(*tasks)
        rss_open = rss_mb(pid)  # every session still open: their session state is alive on the server
        for r in results:
            await r["ctx"].close()
        await asyncio.sleep(2)
        rss_closed = rss_mb(pid)
        for b in browsers:
            await b.close()
    errors = [e for r in results for e in r["errors"]]
    return dict(
        sessions=sessions,
        browsers=n_browsers,
        first=percentiles([r["first"] for r in results if r["first"] is not None]),
        all=percentiles([r["all"] for r in results if r["all"] is not None]),
        n_errors=len(errors),
        errors=sorted(set(errors))[:10],
        rss_before_mb=round(rss_before, 1),
        rss_open_mb=round(rss_open, 1),
        rss_after_close_mb=round(rss_closed, 1),
        mb_per_session=round((rss_open - rss_before) / sessions, 2),
    )


def _open_gate():
    gate = asyncio.Event()
    gate.set()
    return gate


def main(sessions=30, n_browsers=3, path="", **query):  # -> dict: the concurrency section of the report
    with serve(DASHBOARD, log_name="server-concurrency.log") as (url, proc):
        return asyncio.run(crowd(url_for(url, path, **query), proc.pid, sessions, n_browsers))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=30)
    parser.add_argument("--browsers", type=int, default=3)
    args = parser.parse_args()
    print(json.dumps(main(args.sessions, args.browsers), indent=2))

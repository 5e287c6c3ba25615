"""Concurrency benchmark: N sessions open the dashboard at once, like a class following a shared link.

    python -m bench.concurrency [--sessions 30] [--browsers 3]

Three measurements, each against a fresh server:
  - browsers: each session is its own browser context (no shared cookies or cache), spread over a few Chromium
    processes. p50/p95 time to the first chart and to every chart, errors (timeouts, page errors, exception
    boxes), and the server's resident memory before the sessions, with all of them open, and per extra session.
  - floor: the same crowd against the floor app (bench/floor_app.py). Here every Chromium runs on the server's
    own CPUs, so this is what the machine allows any Streamlit app; the dashboard's ratio to it is ours.
  - server: N sessions through Streamlit's own websocket protocol (what the browser sends, without a browser):
    time until the server has sent every chart of the page and finished the script. This is the server's
    share of a class opening the link, as when each student's browser runs on their own laptop.
"""

import argparse
import asyncio
import contextlib
import json
import os
import time
from urllib.parse import urlencode

from bench.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    COUNT,
    DASHBOARD,
    DRAWN,
    EXCEPTION,
    FIRST_DRAWN,
    FLOOR,
    VIEWPORT,
    percentiles,
    rss_mb,
    serve,
    url_for,
)

TIMEOUT_MS = 300_000  # a crowd on 2 CPUs took ~180 s; past this a session counts as an error
HZ = os.sysconf("SC_CLK_TCK")


def machine_busy_s(stat="/proc/stat"):  # -> CPU seconds every process on the machine has spent so far, or None
    """user + nice + system + irq + softirq of the machine's first /proc/stat line (idle and iowait left out)."""
    try:
        with open(stat) as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    user, nice, system, _idle, _iowait, irq, softirq = (fields + [0] * 7)[:7]
    return (user + nice + system + irq + softirq) / HZ


def cpu_bound(busy_before, busy_after, sessions, n_cpus):  # -> dict: the crowd's CPU work, divided among the CPUs
    """What the crowd cost the whole machine (Chromiums, server, driver) while it loaded, and that work divided
    among n_cpus: the time it needs even if the CPUs never idle (Chromiums that wait also spin a little, so part
    of the work grows with the wait)."""
    if busy_before is None or busy_after is None:
        return {}
    cpu_s = busy_after - busy_before
    return dict(machine_cpu_s=round(cpu_s, 1), cpu_s_per_session=round(cpu_s / sessions, 2), n_cpus=n_cpus,
                work_per_cpu_s=round(cpu_s / n_cpus, 1))  # fmt: skip


async def open_session(browser, url, start_gate, n_charts=1, ready=None):  # -> dict: first/all seconds, or the error
    """One student: a fresh context opens the link when the gate opens; the context stays open afterwards.
    n_charts: how many charts the page draws ("every chart" waits for that many); ready() is called once the
    context and its page exist."""
    ctx = await browser.new_context(viewport=VIEWPORT)
    page = await ctx.new_page()
    if ready:
        ready()
    errors = []
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    await start_gate.wait()
    start = time.perf_counter()
    result = dict(ctx=ctx, first=None, all=None, errors=errors)
    try:
        await page.goto(url, wait_until="commit", timeout=TIMEOUT_MS)
        await page.wait_for_function(FIRST_DRAWN, timeout=TIMEOUT_MS)
        result["first"] = time.perf_counter() - start
        await page.wait_for_function(DRAWN, arg=n_charts, timeout=TIMEOUT_MS)
        result["all"] = time.perf_counter() - start
        result["page"] = page
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
        n_charts = await settled_count(warm["page"])
        await warm["ctx"].close()
        rss_before = rss_mb(pid)
        gate, all_ready, n_ready = asyncio.Event(), asyncio.Event(), [0]

        def ready():
            n_ready[0] += 1
            if n_ready[0] == sessions:
                all_ready.set()

        tasks = [asyncio.create_task(open_session(browsers[i % n_browsers], url, gate, n_charts, ready))
                 for i in range(sessions)]  # fmt: skip
        with contextlib.suppress(TimeoutError):  # every context is created before the gate opens: they start together
            await asyncio.wait_for(all_ready.wait(), TIMEOUT_MS / 1e3)
        await asyncio.sleep(0.5)  # and their start-up work is done before the CPU work is counted
        busy_before = machine_busy_s()
        gate.set()
        results = await asyncio.gather(*tasks)
        busy_after = machine_busy_s()
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
        charts=n_charts,
        first=percentiles([r["first"] for r in results if r["first"] is not None]),
        all=percentiles([r["all"] for r in results if r["all"] is not None]),
        n_errors=len(errors),
        errors=sorted(set(errors))[:10],
        rss_before_mb=round(rss_before, 1),
        rss_open_mb=round(rss_open, 1),
        rss_after_close_mb=round(rss_closed, 1),
        mb_per_session=round((rss_open - rss_before) / sessions, 2),
        **cpu_bound(busy_before, busy_after, sessions, len(os.sched_getaffinity(0))),
    )


async def settled_count(page, quiet_s=2.0):  # -> int: charts on the page once none has appeared for quiet_s
    count, since = await page.evaluate(COUNT), time.perf_counter()
    while time.perf_counter() - since < quiet_s:
        await asyncio.sleep(0.1)
        if (now := await page.evaluate(COUNT)) != count:
            count, since = now, time.perf_counter()
    return count


def _open_gate():
    gate = asyncio.Event()
    gate.set()
    return gate


async def protocol_session(url, path, query, start_gate):  # -> dict: seconds to the first chart, to the end
    """One session as the browser opens it, through /_stcore/stream (bench.viewer.session), once the gate opens."""
    from bench.viewer import session

    await start_gate.wait()
    try:
        async with asyncio.timeout(TIMEOUT_MS / 1e3):
            result = await session(url, path, urlencode(query))
        if not result["charts"]:
            result["errors"].append("no chart")
    except Exception as err:  # noqa: BLE001 - counted and reported, not fatal
        result = dict(first=None, all=None, charts=0, errors=[f"{type(err).__name__}: {str(err)[:160]}"])
    return result


async def protocol_crowd(url, pid, sessions, path="", **query):  # -> dict
    await protocol_session(url, path, query, _open_gate())  # one visit first: caches and imports are warm
    rss_before = rss_mb(pid)
    gate = asyncio.Event()
    tasks = [asyncio.create_task(protocol_session(url, path, query, gate)) for _ in range(sessions)]
    await asyncio.sleep(0.2)
    gate.set()
    results = await asyncio.gather(*tasks)
    errors = [e for r in results for e in r["errors"]]
    return dict(
        sessions=sessions,
        first=percentiles([r["first"] for r in results if r["first"] is not None]),
        all=percentiles([r["all"] for r in results if r["all"] is not None]),
        charts=max(r["charts"] for r in results),
        n_errors=len(errors),
        errors=sorted(set(errors))[:10],
        mb_per_session=round((rss_mb(pid) - rss_before) / sessions, 2),
    )


def main(sessions=30, n_browsers=3, path="", floor=True, **query):  # -> dict: the concurrency section of the report
    with serve(DASHBOARD, log_name="server-concurrency.log") as (url, proc):
        result = asyncio.run(crowd(url_for(url, path, **query), proc.pid, sessions, n_browsers))
    if floor:
        with serve(FLOOR, log_name="server-concurrency-floor.log") as (url, proc):
            result["floor"] = asyncio.run(crowd(url_for(url), proc.pid, sessions, n_browsers))
        result["ratio_to_floor"] = round(result["all"]["p95"] / result["floor"]["all"]["p95"], 2)
    with serve(DASHBOARD, log_name="server-concurrency-protocol.log") as (url, proc):
        result["server"] = asyncio.run(protocol_crowd(url, proc.pid, sessions, path, **query))
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=30)
    parser.add_argument("--browsers", type=int, default=3)
    parser.add_argument("--no-floor", action="store_true", help="skip the floor app's crowd")
    args = parser.parse_args()
    print(json.dumps(main(args.sessions, args.browsers, floor=not args.no_floor), indent=2))

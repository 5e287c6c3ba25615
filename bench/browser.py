"""Browser benchmark: a live Streamlit server and Debian's Chromium driven by Playwright (never `playwright install`).

    python -m bench.browser [--quick]

Measures, for the dashboard and for the floor app (bench/floor_app.py) in the same run:
  - load: navigation until the first chart, and until every chart on the page, is drawn; the dashboard both under
    plain `streamlit run`, as the floor, and as deployed for a lecture hall (deploy/start.sh: nginx serves the
    static files, 2 replicas);
  - change: a slider step until the chart's numbers are different in the browser (p50/p95 over >= 20 steps).
"Drawn" means plotly.js has laid the chart out (`_fullLayout` and its SVG exist) and Streamlit's script run has
finished (stApp's data-test-script-state is notRunning). "Changed" compares a fingerprint of the z values plotly.js
is drawing (`_fullData[0].z`) before and after the step; nothing here sleeps for a fixed time.
"""

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DASHBOARD, FLOOR = "app.py", "bench/floor_app.py"
PAGES = ["", "scores", "heads", "pull", "steps", "compare"]
STEPS_TABS = [f"steps?part={part}" for part in ("qkv", "scores", "output", "mlp", "scale")]  # /steps' other tabs
# (a real model's: "mlp" is the norms and the MLP), each drawn only when opened: a link opens one
VIEWPORT = {"width": 1440, "height": 1000}
FLOOR_PAGE = "page"  # the floor app visited at a page's URL, as the dashboard's pages other than the overview are
TIMEOUT_MS = 120_000

# JavaScript run in the page. CHART is plotly.js's graph div; stApp carries the script run's state.
DRAWN = """(minCharts) => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  const charts = Array.from(document.querySelectorAll('.js-plotly-plot'));
  if (charts.length < Math.max(minCharts, 1)) return false;
  return charts.every(gd => gd._fullLayout && gd.querySelector('.main-svg'));
}"""
FIRST_DRAWN = """() => {
  const gd = document.querySelector('.js-plotly-plot');
  return !!(gd && gd._fullLayout && gd.querySelector('.main-svg'));
}"""
COUNT = "() => document.querySelectorAll('.js-plotly-plot').length"
FINGERPRINT = """(index) => {
  const gd = document.querySelectorAll('.js-plotly-plot')[index];
  if (!gd || !gd._fullData || !gd._fullData.length) return null;
  const z = gd._fullData[0].z;
  if (!z) return null;
  let s = 0, c = 0;
  outer: for (const row of z) {
    for (const v of (row.length === undefined ? [row] : row)) {
      c += 1;
      if (v === v && v !== null) s += v * ((c % 7) + 1);
      if (c > 20000) break outer;
    }
  }
  return s.toPrecision(12) + '/' + c;
}"""
EXCEPTION = '[data-testid="stException"]'


def free_port():  # -> int
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid):  # -> float: resident memory of a process in MiB, from /proc
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


@contextlib.contextmanager
def serve(app, log_name=None):  # -> (base url, Popen) of `streamlit run app` on a free port
    """A headless Streamlit server for `app`, without file watching (others edit files while we measure)."""
    port = free_port()
    reports = ROOT / "bench" / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    log = open(reports / (log_name or f"server-{Path(app).stem}.log"), "w")
    cmd = [sys.executable, "-m", "streamlit", "run", app, "--server.address", "127.0.0.1", "--server.port",
           str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false",
           "--server.fileWatcherType", "none", "--server.runOnSave", "false"]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc)
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def wait_healthy(url, proc, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited early with code {proc.returncode}; see its log")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"streamlit did not become healthy at {url} in {timeout}s")


def launch(playwright):  # -> Browser: Debian's Chromium
    if not os.path.exists(CHROMIUM):
        raise RuntimeError(f"Chromium not found at {CHROMIUM}; scripts/setup.sh --dev installs it")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def url_for(base, path="", **query):  # -> str; path may carry its own query ("steps?part=scores")
    path, _, own = path.partition("?")
    q = "&".join(filter(None, [own, urlencode({k: v for k, v in query.items() if v is not None})]))
    return f"{base}/{path}" + (f"?{q}" if q else "")


def percentiles(samples):  # list[float] seconds -> dict of ms: p50, p95, mean, n
    a = np.asarray(samples, dtype=np.float64) * 1e3
    if a.size == 0:
        return dict(p50=None, p95=None, mean=None, n=0)
    return dict(p50=round(float(np.percentile(a, 50)), 1), p95=round(float(np.percentile(a, 95)), 1),
                mean=round(float(a.mean()), 1), n=int(a.size))  # fmt: skip


def settled_count(page, quiet_s=2.0, limit_s=60.0):  # -> (int, float): charts once no more appear, and when
    """A chart's element exists only once plotly.js's chunk has loaded and drawn it, so a page cannot say how many
    are still coming. Count until the number has not changed for quiet_s; also return the perf_counter time at
    which the last one appeared (to 0.1 s)."""
    count, since, deadline = page.evaluate(COUNT), time.perf_counter(), time.monotonic() + limit_s
    while time.perf_counter() - since < quiet_s and time.monotonic() < deadline:
        time.sleep(0.1)
        now = page.evaluate(COUNT)
        if now != count:
            count, since = now, time.perf_counter()
    page.wait_for_function(DRAWN, arg=count, timeout=TIMEOUT_MS)
    return count, since


def load_once(browser, url, n_charts=None):  # -> dict: seconds to first chart, to every chart, chart count, errors
    """Open `url` in a fresh context (a new session, like a student opening the link) and time its charts.
    n_charts: how many the page draws (from an untimed visit); None counts them after the page settles."""
    ctx = browser.new_context(viewport=VIEWPORT)
    page = ctx.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        start = time.perf_counter()
        page.goto(url, wait_until="commit", timeout=TIMEOUT_MS)
        page.wait_for_function(FIRST_DRAWN, timeout=TIMEOUT_MS)
        first = time.perf_counter() - start
        page.wait_for_function(DRAWN, arg=n_charts or 1, timeout=TIMEOUT_MS)
        drawn = time.perf_counter() - start
        if n_charts is None:  # an untimed-quality visit: "every chart" is when the last one appeared
            n_charts, last = settled_count(page)
            drawn = max(drawn, last - start)
        if page.locator(EXCEPTION).count():
            errors.append("exception box on the page")
        return dict(first=first, all=drawn, n_charts=n_charts, errors=errors)
    finally:
        ctx.close()


def summary(url, cold, runs):  # -> dict: one page's loads as p50/p95 ms
    return dict(
        url=url.split("?", 1)[-1][:60] if "?" in url else "",
        cold_all_ms=round(cold["all"] * 1e3, 1),
        first=percentiles([r["first"] for r in runs]),
        all=percentiles([r["all"] for r in runs]),
        n_charts=runs[-1]["n_charts"],
        errors=sorted({e for r in runs for e in r["errors"]}),
    )


def page_loads(browser, url, repeats):  # -> dict: p50/p95 ms of first chart and all charts
    """The first visit (cold: the server computes the run) is reported apart from `repeats` warm visits."""
    return interleaved_loads(browser, {"page": url}, repeats)["page"]


def interleaved_loads(browser, urls, repeats):  # {name: url}, int -> {name: summary}
    """Every page once cold, then `repeats` rounds visiting each page in turn, so that load on the machine
    (other people's work) hits the floor and the dashboard alike."""
    cold = {name: load_once(browser, url) for name, url in urls.items()}  # a lecturer opens the pages before class
    runs = {name: [] for name in urls}
    for _ in range(repeats):
        for name, url in urls.items():  # "every chart" waits for as many as the cold visit counted
            runs[name].append(load_once(browser, url, n_charts=cold[name]["n_charts"]))
    return {name: summary(url, cold[name], runs[name]) for name, url in urls.items()}


def control_changes(browser, url, n_changes=20, label="Temperature", chart=0):  # -> (seconds list, failures)
    """Step the slider named `label` n_changes times (ArrowRight); time each step until chart `chart` changes."""
    ctx = browser.new_context(viewport=VIEWPORT)
    page = ctx.new_page()
    try:
        page.goto(url, timeout=TIMEOUT_MS)
        page.wait_for_function(DRAWN, arg=1, timeout=TIMEOUT_MS)
        thumb = page.get_by_role("slider", name=label)
        thumb.focus()
        samples, failures = [], 0
        for i in range(n_changes):
            before = page.evaluate(FINGERPRINT, chart)
            key = "ArrowRight" if i % 40 < 20 else "ArrowLeft"  # stay inside the slider's range
            start = time.perf_counter()
            thumb.press(key)
            try:
                page.wait_for_function(
                    f"(prev) => {{ const f = ({FINGERPRINT})({chart}); return f !== null && f !== prev; }}",
                    arg=before,
                    timeout=30_000,
                )
                samples.append(time.perf_counter() - start)
            except Exception:  # noqa: BLE001 - a step that never shows is counted, not fatal
                failures += 1
            page.wait_for_function(DRAWN, arg=1, timeout=TIMEOUT_MS)  # settle before the next step (not timed)
        return samples, failures
    finally:
        ctx.close()


def alternating_changes(browser, pairs, n_changes, blocks=4):  # [(name, url)], int -> {name: p50/p95 dict}
    """Control changes in blocks, each app in turn (floor, dashboard, floor, ...), so load hits both alike."""
    samples, failures = {name: [] for name, _ in pairs}, {name: 0 for name, _ in pairs}
    per_block = max(1, -(-n_changes // blocks))
    for _ in range(min(blocks, n_changes)):
        for name, url in pairs:
            got, failed = control_changes(browser, url, per_block)
            samples[name] += got
            failures[name] += failed
    return {name: dict(url=url.split("?", 1)[-1][:60] if "?" in url else "", **percentiles(samples[name]),
                       failures=failures[name]) for name, url in pairs}  # fmt: skip


def ratio(a, b):  # -> float | None
    return round(a / b, 2) if a and b else None


def floor_ratios(result):  # adds first_ratio, all_ratio and first_ratio_root to every row of "pages" and "deployed"
    """Each page against the floor at the same kind of URL (the overview at /, the rest at a page's path), and
    every page's first chart against the floor at its root too."""
    root_first = result["floor_load"]["first"]["p50"]
    for name, row in [*result["pages"].items(), *result.get("deployed", {}).items()]:
        floor = result["floor_load" if name == "overview" else "floor_page_load"]
        row["first_ratio"] = ratio(row["first"]["p50"], floor["first"]["p50"])
        row["all_ratio"] = ratio(row["all"]["p50"], floor["all"]["p50"])
        row["first_ratio_root"] = ratio(row["first"]["p50"], root_first)


DEPLOYED = " behind nginx"  # suffix of a page's name served as deployed: deploy/start.sh, 2 replicas


@contextlib.contextmanager
def deployed(browser, pages, **query):  # -> {name + DEPLOYED: url}: the dashboard as a lecture hall serves it
    """deploy/start.sh with 2 replicas: nginx serves Streamlit's static files from disk, gzipped, and routes each
    session to a replica. Every replica visits every page once first (each replica has its own caches), so that no
    timed visit is the one that computes the run."""
    from bench.hall import cluster

    with cluster(2) as (nginx_url, _, replicas):
        for base in replicas:
            for path in pages:
                load_once(browser, url_for(base, path, **query))
        yield {(path or "overview") + DEPLOYED: url_for(nginx_url, path, **query) for path in pages}


def split_deployed(loads):  # {name: summary} -> (plain, deployed): deployed keyed by the page's own name
    plain = {name: row for name, row in loads.items() if not name.endswith(DEPLOYED)}
    return plain, {name.removesuffix(DEPLOYED): row for name, row in loads.items() if name.endswith(DEPLOYED)}


def main(quick=False, minilm=True, repeats=None, nginx=None):  # -> dict: the browser section of the report
    """Dashboard pages and control changes, and the floor app's, in one run; ratios dashboard / floor.
    The pages are loaded twice over: served by plain `streamlit run`, as the floor is, and as deployed for a
    lecture hall (nginx and 2 replicas, `deployed`); nginx=None: both unless quick.
    With MiniLM installed, also a control change at 128 tokens against a 128 x 128 floor heatmap."""
    from playwright.sync_api import sync_playwright

    from attention.models import loading as checkpoint
    from bench.long_inputs import text_of_length

    text_128 = text_of_length("minilm", 128) if minilm and checkpoint.is_available("minilm") else None

    n_loads, n_changes = (1, 3) if quick else (5, 20)
    repeats = repeats or n_loads
    pages = PAGES[:2] if quick else PAGES
    nginx = not quick if nginx is None else nginx
    result = {}
    with (
        sync_playwright() as p,
        serve(FLOOR) as (floor_url, _),
        serve(DASHBOARD) as (url, _),
        contextlib.ExitStack() as stack,
    ):
        browser = launch(p)
        # The floor twice: at its root, and at a page's URL. Streamlit's frontend first looks for the server under
        # a page's path (/scores/_stcore/health), fails, and retries at the root after a back-off: ~0.1 s that
        # every multipage app pays on every page but its first, whatever the page draws.
        floors = {"floor": url_for(floor_url), "floor_page": url_for(floor_url, FLOOR_PAGE)}
        urls = floors | {path or "overview": url_for(url, path) for path in pages}
        if nginx:
            urls |= stack.enter_context(deployed(browser, pages))
        loads = interleaved_loads(browser, urls, repeats)
        result["floor_load"], result["floor_page_load"] = loads.pop("floor"), loads.pop("floor_page")
        result["pages"], deployed_loads = split_deployed(loads)
        if deployed_loads:
            result["deployed"] = deployed_loads
        pairs = [("floor_change", url_for(floor_url)), ("change_lecture", url_for(url, "scores", stage="weights"))]
        if text_128:
            minilm = url_for(url, "scores", stage="weights", model="minilm", text=text_128)
            pairs += [("floor_change_128", url_for(floor_url, n=128)), ("change_minilm_128", minilm)]
        result.update(alternating_changes(browser, pairs, n_changes))
        browser.close()
    floor_ratios(result)
    result["change_lecture"]["ratio"] = ratio(result["change_lecture"]["p50"], result["floor_change"]["p50"])
    if text_128:
        floor = result["floor_change_128"]["p50"]
        result["change_minilm_128"]["ratio"] = ratio(result["change_minilm_128"]["p50"], floor)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one load per page, 3 changes: a smoke run")
    print(json.dumps(main(parser.parse_args().quick), indent=2))

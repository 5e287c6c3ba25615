"""Server CPU per new viewer: the per-replica capacity figure the README's sizing section uses.

    python -m bench.capacity [--viewers 15] [PATH ...]      # default paths: / /scores /heads /pull

One replica (`streamlit run app.py`) is started; after one warm-up visit per path, N fresh browser sessions
open each path in turn, and the server process's CPU time (utime + stime from /proc) is read before and after.
CPU time, unlike wall time, barely depends on what else the machine is doing.
"""

import argparse
import os
import time

from bench import browser

HZ = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):  # -> float: user + system CPU time of a process
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ


def visit(b, url):  # a fresh session opens url and waits for its charts and the end of the script run
    ctx = b.new_context()
    page = ctx.new_page()
    page.goto(url)
    page.wait_for_selector(".js-plotly-plot", timeout=120_000)
    page.wait_for_selector('[data-test-script-state="notRunning"]', timeout=120_000)
    ctx.close()


def main(viewers=15, paths=("/", "/scores", "/heads", "/pull")):  # -> list of dict rows
    from playwright.sync_api import sync_playwright

    rows = []
    with sync_playwright() as p, browser.serve(browser.DASHBOARD, log_name="server-capacity.log") as (url, proc):
        b = browser.launch(p)
        for path in paths:
            visit(b, url + path)  # warm the caches: a lecture hall shares one view
        for path in paths:
            c0, t0 = cpu_seconds(proc.pid), time.monotonic()
            for _ in range(viewers):
                visit(b, url + path)
            cpu = cpu_seconds(proc.pid) - c0
            rows.append(dict(path=path, viewers=viewers, cpu_s=round(cpu, 2), ms_per_viewer=round(1e3 * cpu / viewers),
                             per_minute=int(60 / (cpu / viewers)), wall_s=round(time.monotonic() - t0, 1),
                             rss_mb=round(browser.rss_mb(proc.pid), 1), load=round(os.getloadavg()[0], 1)))  # fmt: skip
        b.close()
    print("| path | viewers | server CPU per viewer | viewers per replica-minute | server RSS | load |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['path']} | {r['viewers']} | {r['ms_per_viewer']} ms | {r['per_minute']} | {r['rss_mb']} MB | {r['load']} |"
        )
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--viewers", type=int, default=15, help="fresh sessions per path (default 15)")
    parser.add_argument("paths", nargs="*", default=["/", "/scores", "/heads", "/pull"])
    args = parser.parse_args()
    main(args.viewers, tuple(args.paths))

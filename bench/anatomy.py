"""Where a page's first chart loses time against the floor: the floor app with the dashboard's parts added one at a
time, interleaved with the dashboard's pages, in one run.

    python -m bench.anatomy [--repeats 5] [--quick]      (or: python -m bench.run --only anatomy)

Every case is the floor app at a page's URL (bench/floor_app.py), so each ratio is against the same floor the
browser benchmark uses for pages other than the overview:
  - controls: the dashboard's sidebar controls (the same widget kinds, number and order), drawn after the chart;
  - K charts: K heatmaps of the floor's size, each its own chart (the dashboard's pages draw 1 to 5);
  - controls + K charts: both;
and the dashboard's pages (lecture model), served by plain `streamlit run` and behind nginx as deployed
(deploy/start.sh, static files from disk). A part whose ratio alone is near the 1.3x target leaves nothing for the
rest of the page.
"""

import argparse
import json

from bench.browser import DASHBOARD, FLOOR, FLOOR_PAGE, PAGES, launch, ratio, serve, url_for

CHARTS = {"": 2, "scores": 5, "heads": 2, "pull": 1, "steps": 1, "compare": 4}  # lecture model, default view


def cases(floor_url):  # -> {name: url}: the floor and the floor with the dashboard's parts
    out = {
        "floor": url_for(floor_url, FLOOR_PAGE),
        "floor + controls": url_for(floor_url, FLOOR_PAGE, controls="sidebar"),
    }
    for k in sorted(set(CHARTS.values()) - {1}):
        out[f"floor, {k} charts"] = url_for(floor_url, FLOOR_PAGE, charts=k)
        out[f"floor + controls, {k} charts"] = url_for(floor_url, FLOOR_PAGE, controls="sidebar", charts=k)
    return out


def main(repeats=5, quick=False, nginx=True):  # -> dict: {name: summary with first_ratio and all_ratio}
    import contextlib

    from playwright.sync_api import sync_playwright

    from bench.browser import deployed, interleaved_loads

    pages = ["", "steps"] if quick else PAGES
    with contextlib.ExitStack() as stack:
        p = stack.enter_context(sync_playwright())
        floor_url, _ = stack.enter_context(serve(FLOOR, log_name="server-anatomy-floor.log"))
        url, _ = stack.enter_context(serve(DASHBOARD, log_name="server-anatomy.log"))
        browser = launch(p)
        urls = cases(floor_url) | {"/" + path: url_for(url, path) for path in pages}
        if nginx:
            urls |= {
                "/" + name.removeprefix("overview"): u
                for name, u in stack.enter_context(deployed(browser, pages)).items()
            }
        result = interleaved_loads(browser, urls, 1 if quick else repeats)
        browser.close()
    floor = result["floor"]
    for row in result.values():
        row["first_ratio"] = ratio(row["first"]["p50"], floor["first"]["p50"])
        row["all_ratio"] = ratio(row["all"]["p50"], floor["all"]["p50"])
    return result


def markdown(result):  # -> [str]: the report's section
    lines = ["## Anatomy of a first chart: the floor with the dashboard's parts added", "",
             "The floor app at a page's URL with the dashboard's sidebar controls (the same widget kinds, number and "
             "order), with K heatmaps, and with both; the dashboard's pages (lecture model) under plain `streamlit "
             "run` and behind nginx as deployed; all in the same interleaved rounds. Ratios against the plain floor.",
             "", "| case | charts | first chart p50 | p95 | first / floor | every chart p50 | every / floor |",
             "|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for name, row in result.items():
        lines.append(f"| {name} | {row['n_charts']} | {row['first']['p50']:,.0f} ms | {row['first']['p95']:,.0f} ms | "
                     f"{row['first_ratio']}x | {row['all']['p50']:,.0f} ms | {row['all_ratio']}x |")  # fmt: skip
    return lines + [""]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="warm visits per case, interleaved")
    parser.add_argument("--quick", action="store_true", help="one visit, two pages: a smoke run")
    parser.add_argument("--plain-only", action="store_true", help="skip the pages behind nginx")
    args = parser.parse_args()
    result = main(args.repeats, args.quick, nginx=not args.plain_only)
    print("\n".join(markdown(result)))
    print(json.dumps(result, indent=1))

"""Browser A/B: a Temperature step on /flow and /geometry against the floor app and /scores, in one run.

    python -m bench.flow_browser [--changes 12] [--blocks 3] [--minilm]

Each block steps the floor app, /scores, /flow and /geometry in turn (bench.browser.control_changes: until the
chart's z values change in the browser), so load on the machine hits all alike. Prints p50/p95 ms and each
page's ratio to the floor; the claim is that /flow and /geometry sit at /scores' ratio. /geometry is timed on
its neuron view at layer 1 of two, whose q and k change with the temperature of layer 0. --minilm adds the
same three pages on MiniLM (a 12-word sentence).
"""

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.browser import DASHBOARD, FLOOR, control_changes, launch, percentiles, ratio, serve, url_for  # noqa: E402

MINILM_TEXT = "The bank raised its rates, and the river bank flooded after the storm."


def pages(url, minilm):  # -> [(name, url, chart index)]
    out = [("scores", url_for(url, "scores", stage="weights"), 0), ("flow", url_for(url, "flow", steps=2), 0),
           ("geometry", url_for(url, "geometry", steps=2, layer=1), 1)]  # fmt: skip
    if minilm:
        real = dict(model="minilm", text=MINILM_TEXT, layer=3)
        out += [("scores_minilm", url_for(url, "scores", stage="weights", **real), 0),
                ("flow_minilm", url_for(url, "flow", **real), 0), ("geometry_minilm", url_for(url, "geometry", **real), 1)]  # fmt: skip
    return out


def main(changes=12, blocks=3, minilm=False):  # -> dict: p50/p95 per page and ratio to the floor
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p, serve(FLOOR) as (floor_url, _), serve(DASHBOARD) as (url, _):
        browser = launch(p)
        visits = [("floor", url_for(floor_url), 0), *pages(url, minilm)]
        samples, failures = {n: [] for n, _, _ in visits}, {n: 0 for n, _, _ in visits}
        for _ in range(blocks):
            for name, address, chart in visits:
                got, failed = control_changes(browser, address, max(1, changes // blocks), chart=chart)
                samples[name] += got
                failures[name] += failed
        browser.close()
    result = {name: dict(**percentiles(samples[name]), failures=failures[name]) for name in samples}
    for row in result.values():
        row["ratio"] = ratio(row["p50"], result["floor"]["p50"])
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=12, help="Temperature steps per page (default 12)")
    parser.add_argument("--blocks", type=int, default=3, help="rounds over the pages (default 3)")
    parser.add_argument("--minilm", action="store_true", help="also the three pages on MiniLM")
    args = parser.parse_args()
    print(json.dumps(main(args.changes, args.blocks, args.minilm), indent=2))

"""Long inputs: issue 22's target (every page at 512 MiniLM tokens against the floor app's one 512 x 512 heatmap,
interleaved, several visits each), and a sweep of the lecture model and MiniLM at 64, 256 and 512 tokens.

    python -m bench.long_inputs [--quick] [--repeats 3] [--sweep]

The text repeats a short passage with punctuation (every mark is a token), so 512 tokens fit in the sentence
box's 4000 characters.
"""

import argparse
import json

from bench.browser import DASHBOARD, FLOOR, PAGES, STEPS_TABS, launch, page_loads, serve, url_for

LENGTHS = (64, 256, 512)
PASSAGE = "The cat sat on the mat, and the dog ran to the bank of the river. It was wet; so it sat by a tree. "


def count_tokens(model, text):  # -> int: n_seq the model sees, special tokens included
    if model == "lecture":
        from attention.lecture import tokenize

        return len(tokenize(text))
    from attention.models import loading as checkpoint
    from attention.models.runner import encode

    return len(encode(checkpoint.load(model), text)[0])


def text_of_length(model, n_seq):  # -> str: the shortest prefix of the passage (by words) with >= n_seq tokens
    words = (PASSAGE * (n_seq // 8 + 2)).split()
    lo, hi = 1, len(words)
    while lo < hi:  # token count grows with the number of words: bisect
        mid = (lo + hi) // 2
        if count_tokens(model, " ".join(words[:mid])) >= n_seq:
            hi = mid
        else:
            lo = mid + 1
    return " ".join(words[:lo])


def target(quick=False, repeats=3, n_seq=512, nginx=None):  # -> dict: MiniLM pages at n_seq tokens against the floor
    """Every page (and /steps' other tabs, opened by their link) once cold, then `repeats` rounds visiting the
    floor (at / and at a page's URL) and every page in turn (bench.browser.interleaved_loads), so the machine's
    load hits both alike. Ratio: a page's every chart
    (p50, warm) against the floor's at the same kind of URL (the overview at /, the rest at a page's path).
    The pages are visited under plain `streamlit run` and, unless quick (nginx=None) or nginx=False, as deployed
    (bench.browser.deployed: nginx and 2 replicas) in the same rounds."""
    import contextlib

    from playwright.sync_api import sync_playwright

    from bench.browser import FLOOR_PAGE, deployed, interleaved_loads, ratio, split_deployed

    pages = PAGES[:2] if quick else PAGES
    views = pages if quick else pages + STEPS_TABS  # /steps' other tabs too, under plain `streamlit run`
    repeats = 1 if quick else repeats
    nginx = not quick if nginx is None else nginx
    text = text_of_length("minilm", n_seq)
    with (
        sync_playwright() as p,
        serve(DASHBOARD, log_name="server-long.log") as (url, _),
        serve(FLOOR, log_name="server-long-floor.log") as (floor_url, _),
        contextlib.ExitStack() as stack,
    ):
        browser = launch(p)
        urls = {"floor": url_for(floor_url, n=n_seq), "floor_page": url_for(floor_url, FLOOR_PAGE, n=n_seq)}
        urls |= {path or "overview": url_for(url, path, model="minilm", text=text) for path in views}
        if nginx:
            urls |= stack.enter_context(deployed(browser, pages, model="minilm", text=text))
        loads = interleaved_loads(browser, urls, repeats)
        browser.close()
    floor, floor_page = loads.pop("floor"), loads.pop("floor_page")
    loads, as_deployed = split_deployed(loads)
    for name, row in [*loads.items(), *as_deployed.items()]:
        row["ratio"] = ratio(row["all"]["p50"], (floor if name == "overview" else floor_page)["all"]["p50"])
    return dict(kind="target", model="minilm", n_seq=count_tokens("minilm", text), repeats=repeats, floor=floor,
                floor_page=floor_page, pages=loads, **({"deployed": as_deployed} if as_deployed else {}))  # fmt: skip


def main(quick=False, models=("lecture", "minilm")):  # -> list of dicts: one per model, length and page (the sweep)
    from playwright.sync_api import sync_playwright

    from attention.models import loading as checkpoint

    models = [m for m in models if m == "lecture" or checkpoint.is_available(m)]
    lengths, pages = ((64,), PAGES[:2]) if quick else (LENGTHS, PAGES)
    rows = []
    with (
        sync_playwright() as p,
        serve(DASHBOARD, log_name="server-long.log") as (url, _),
        serve(FLOOR, log_name="server-long-floor.log") as (floor_url, _),
    ):
        browser = launch(p)
        for n in lengths:  # the floor app's one heatmap at the same sizes: what any Streamlit page pays
            load = page_loads(browser, url_for(floor_url, n=n), repeats=1)
            rows.append(dict(model="floor app", n_seq=n, page="one heatmap", cold_all_ms=load["cold_all_ms"],
                             first_ms=load["first"]["p50"], all_ms=load["all"]["p50"], n_charts=load["n_charts"],
                             errors=load["errors"]))  # fmt: skip
            print(rows[-1], flush=True)
        for model in models:
            for n in lengths:
                text = text_of_length(model, n)
                for path in pages:
                    load = page_loads(browser, url_for(url, path, model=model, text=text), repeats=1)
                    rows.append(dict(model=model, n_seq=count_tokens(model, text), page=path or "overview",
                                     cold_all_ms=load["cold_all_ms"], first_ms=load["first"]["p50"],
                                     all_ms=load["all"]["p50"], n_charts=load["n_charts"], errors=load["errors"]))  # fmt: skip
                    print(rows[-1], flush=True)
        browser.close()
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two pages, one visit: a smoke run")
    parser.add_argument("--repeats", type=int, default=3, help="warm visits per page in the target run (default 3)")
    parser.add_argument("--sweep", action="store_true", help="instead: both models at 64, 256 and 512 tokens")
    a = parser.parse_args()
    print(json.dumps(main(a.quick) if a.sweep else target(a.quick, a.repeats), indent=2))

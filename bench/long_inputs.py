"""Long inputs: the lecture model and MiniLM at 64, 256 and 512 tokens, time to charts visible on every page.

    python -m bench.long_inputs [--quick]

The text repeats a short passage with punctuation (every mark is a token), so 512 tokens fit in the sentence
box's 4000 characters.
"""

import argparse
import json

from bench.browser import DASHBOARD, FLOOR, PAGES, launch, page_loads, serve, url_for

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


def main(quick=False, models=("lecture", "minilm")):  # -> list of dicts: one per model, length and page
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
    parser.add_argument("--quick", action="store_true", help="64 tokens, two pages: a smoke run")
    print(json.dumps(main(parser.parse_args().quick), indent=2))

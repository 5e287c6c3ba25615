"""The context pull reads on a projector: no two labels the browser draws overlap, on /pull, the Overview and /compare,
in normal and presentation mode, for the presets and other sentences (boxes measured in Chromium at 1600 × 1000)."""

from urllib.parse import urlencode

import pytest

from attention.examples import EXAMPLES, PAIRS

pytestmark = pytest.mark.browser

VIEWPORT = {"width": 1600, "height": 1000}
OTHERS = [  # ten more sentences of at most 20 tokens: ambiguous words, repeats, unknown words, punctuation
    "the bat flew out of the cave at night and caught insects",
    "he hit the ball with the bat and the team won the game",
    "the mouse and the keyboard are plugged into my computer",
    "i wrote the code in python and ran the program on my computer",
    "the crane lifted steel beams to the top of the new tower",
    "the dog began to bark when the cat came near",
    "she caught a cold and stayed in bed with a fever and a cough",
    "the zorblax glimmered , and the frobnicator hummed quietly",
    "a a a a apple apple banana banana laptop laptop phone phone",
    "on a cold winter morning the old fisherman walked along the river bank with his dog",
]
SENTENCES = [*EXAMPLES.values(), *OTHERS]
COMPARE = [(EXAMPLES[a], EXAMPLES[b]) for a, b in PAIRS.values()] + [
    (OTHERS[0], OTHERS[1]),
    ("the crane stood in the river", OTHERS[4]),
]
CHART = ".js-plotly-plot"

# Every drawn label's box, per chart: scatter text and annotation text (empty arrowheads have no box).
BOXES = """() => Array.from(document.querySelectorAll('.js-plotly-plot'), gd =>
  Array.from(gd.querySelectorAll('g.textpoint text, g.annotation text'))
    .map(t => [t.getBoundingClientRect(), t.textContent])
    .filter(([r, s]) => r.width > 0.5 && r.height > 0.5 && s.trim())
    .map(([r, s]) => [r.left, r.top, r.right, r.bottom, s]))"""


def overlaps(boxes):  # [[x0, y0, x1, y1, text]] -> [(text, text)]: pairs that share more than a pixel each way
    out = []
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            if min(a[2], b[2]) - max(a[0], b[0]) > 1 and min(a[3], b[3]) - max(a[1], b[1]) > 1:
                out.append((a[4], b[4]))
    return out


TEXTS = (
    "() => Array.from(document.querySelectorAll('g.textpoint text, g.annotation text'), t => t.textContent).join('|')"
)
IDLE = "() => document.querySelector('[data-testid=\"stApp\"]').getAttribute('data-test-script-state') === 'notRunning'"


def settle(page):  # -> per chart, the label boxes, once the script run is over and plotly has drawn
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=60_000)
    page.wait_for_function(IDLE, timeout=60_000)
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('.js-plotly-plot')).every(gd => gd._fullLayout)", timeout=30_000
    )
    page.wait_for_timeout(200)  # the last relayout (width from the container) settles
    return page.evaluate(BOXES)


def load(page, url):  # a fresh session on `url` -> label boxes per chart
    page.goto(url)
    page.wait_for_selector(CHART, state="visible", timeout=90_000)
    return settle(page)


def retype(page, text, present):  # -> the labels drawn before: type another sentence into the sidebar, don't wait
    """Twice as fast as opening a new link. In presentation mode the sidebar is opened to type and closed again."""
    before = page.evaluate(TEXTS)
    if present:
        page.get_by_test_id("stExpandSidebarButton").click()
    box = page.get_by_role("textbox", name="Sentence")
    box.fill(text)
    box.press("Control+Enter")
    if present:
        page.get_by_test_id("stSidebarCollapseButton").locator("button").evaluate(
            "b => b.click()"
        )  # shown on hover only
    return before


def redrawn(page, before):  # -> label boxes per chart, once the labels differ from `before` and the run is over
    page.wait_for_function(f"(old) => ({TEXTS})() !== old", arg=before, timeout=60_000)
    return settle(page)


@pytest.mark.timeout(1200)  # 88 views: ~5 min on 2 free CPUs, 10.5 min measured with the machine at load 20
def test_no_label_overlaps_another_on_the_pull_views(server, browser):
    ctx = browser.new_context(viewport=VIEWPORT)
    tabs = {path: ctx.new_page() for path in ("pull", "")}  # both pages rerun side by side: the test takes half as long
    bad, seen, visits = [], 0, 0

    def check(where, charts):
        nonlocal seen, visits
        visits += 1
        seen += sum(map(len, charts))
        bad.extend((where, pair) for chart in charts for pair in overlaps(chart))

    try:
        for present in (False, True):
            mode = {"present": "true"} if present else {}
            for path, tab in tabs.items():
                check(
                    (path, SENTENCES[0], present),
                    load(tab, f"{server}/{path}?{urlencode({'text': SENTENCES[0], **mode})}"),
                )
            for text in SENTENCES[1:]:
                before = {path: retype(tab, text, present) for path, tab in tabs.items()}
                for path, tab in tabs.items():
                    check((path, text, present), redrawn(tab, before[path]))
            for a, b in COMPARE:
                check(
                    ("compare", a, b, present),
                    load(tabs["pull"], f"{server}/compare?{urlencode({'text': a, 'text2': b, **mode})}"),
                )
    finally:
        ctx.close()
    assert visits == 2 * (2 * len(SENTENCES) + len(COMPARE))
    assert seen > 8 * visits, f"too few labels measured ({seen} in {visits} views): did the charts draw?"
    assert not bad, f"{len(bad)} overlapping label pairs, e.g. {bad[:5]}"


SENSES = {"apple": ("food (apple: fruit)", "technology (apple)"), "bank": ("nature (bank: river)", "finance (bank: money)")}  # fmt: skip
SHOTS = [  # (file name, page, sentence, second sentence): the apple and bank pairs a lecture starts with
    ("pull-apple-fruit", "pull", EXAMPLES["apple, the fruit"], None),
    ("pull-apple-company", "pull", EXAMPLES["apple, the company"], None),
    ("pull-bank-river", "pull", EXAMPLES["bank of a river"], None),
    ("pull-bank-money", "pull", EXAMPLES["bank for money"], None),
    ("overview-apple-fruit", "", EXAMPLES["apple, the fruit"], None),
    ("compare-apple", "compare", EXAMPLES["apple, the fruit"], EXAMPLES["apple, the company"]),
    ("compare-bank", "compare", EXAMPLES["bank of a river"], EXAMPLES["bank for money"]),
]


def test_both_senses_are_named_on_the_apple_and_bank_pairs(server, browser, screenshots):
    """Both sense regions carry their name in the drawn chart; the screenshots are for a person to look at."""
    ctx = browser.new_context(viewport=VIEWPORT)
    page = ctx.new_page()
    missing = []
    try:
        for present in (False, True):
            for name, path, text, text2 in SHOTS:
                query = {
                    "text": text,
                    **({"text2": text2} if text2 else {}),
                    **({"present": "true"} if present else {}),
                }
                charts = load(page, f"{server}/{path}?{urlencode(query)}")
                drawn = {b[4] for chart in charts for b in chart}
                word = "apple" if "apple" in name else "bank"
                missing += [(name, present, s) for s in SENSES[word] if s not in drawn]
                pull = page.locator(CHART, has_text="hollow").first  # the pull chart: its title says hollow = before
                pull.scroll_into_view_if_needed()
                pull.screenshot(path=str(screenshots / f"{name}{'-present' if present else ''}.png"))
    finally:
        ctx.close()
    assert not missing, f"sense regions without their name: {missing}"

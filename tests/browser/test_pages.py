"""Every page in a real browser: charts render with no exception box and no console errors, a control changes
the chart, and a shared link opened in a fresh browser shows the same numbers the backend computes."""

import re
from urllib.parse import urlencode

import numpy as np
import pytest

from attention import registry
from attention.presets import preset_weights
from attention.run import stages
from ui.settings import Settings

pytestmark = pytest.mark.browser

PATHS = ["", "scores", "heads", "pull", "steps", "compare", "flow", "geometry"]
CHART = ".js-plotly-plot"
EXCEPTION = '[data-testid="stException"]'


def open_page(page, url, charts=1):
    page.goto(url)
    page.wait_for_selector(CHART, state="visible", timeout=90_000)
    page.wait_for_function(f"document.querySelectorAll('{CHART}').length >= {charts}", timeout=30_000)
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=60_000)


def first_z(page, index=0):  # -> np.ndarray: the z matrix plotly.js is drawing in the index-th chart
    z = page.evaluate(
        f"""() => {{
            const gd = document.querySelectorAll('{CHART}')[{index}];
            return Array.from(gd._fullData[0].z, row => Array.from(row, v => (v === null ? NaN : v)));
        }}"""
    )
    return np.array(z, dtype=np.float64)


def slide_to(page, name, target):  # presses the slider's arrow keys until it shows `target`
    """Key presses made while a rerun redraws the slider can be lost, so count by what the slider shows (its
    range input's value), not by presses: the link and the chart must still follow the value it reaches."""
    thumb = page.get_by_role("slider", name=name)
    for _ in range(60):
        value = float(thumb.input_value())
        if abs(value - target) < 1e-9:
            return
        thumb.focus()
        thumb.press("ArrowRight" if value < target else "ArrowLeft")
        page.wait_for_timeout(50)
    raise AssertionError(f"the {name} slider did not reach {target}: it shows {value}")


def shoot(page, path):  # the whole page: Streamlit scrolls inside its main block, so grow the viewport to fit
    height = page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    page.set_viewport_size({"width": 1440, "height": min(int(height) + 40, 6000)})
    page.wait_for_timeout(800)  # plotly redraws at the new size
    page.screenshot(path=str(path))
    page.set_viewport_size({"width": 1440, "height": 1000})


CLIPPED = """() => {  // every tick label and axis title that sticks out of its chart: margins are ours (no automargin)
  const out = [];
  for (const gd of document.querySelectorAll('.js-plotly-plot')) {
    const box = gd.getBoundingClientRect();
    for (const t of gd.querySelectorAll('.xtick text, .ytick text, .g-xtitle text, .g-ytitle text')) {
      const r = t.getBoundingClientRect();
      if (r.width && (r.left < box.left - 1 || r.bottom > box.bottom + 1)) out.push(t.textContent);
    }
  }
  return out;
}"""


@pytest.mark.parametrize("path", PATHS, ids=[p or "overview" for p in PATHS])
def test_page_renders_cleanly(server, page, screenshots, path):
    open_page(page, f"{server}/{path}")
    assert page.locator(CHART).first.is_visible()
    assert page.locator(EXCEPTION).count() == 0
    assert page.locator("h1").count() >= 1
    shoot(page, screenshots / f"{path or 'overview'}.png")
    assert page.errors == [], f"console errors on /{path}: {page.errors}"


@pytest.mark.parametrize("query", [{}, {"present": "true"}, {"text": "supercalifragilisticexpialidocious WWWWWWWW ate 猫が魚を食べた"},
                                   {"model": "minilm", "n_head": "4"}], ids=["lecture", "present", "long-words", "minilm"])  # fmt: skip
@pytest.mark.parametrize("path", PATHS, ids=[p or "overview" for p in PATHS])
def test_axis_labels_fit_inside_their_charts(server, page, path, query):
    """theme() sizes the margins from the labels (plotly's automargin would measure them in the browser on every
    redraw); no tick label or axis title may be cut off at a chart's left or bottom edge."""
    open_page(page, f"{server}/{path}?{urlencode(query)}")
    page.wait_for_timeout(500)  # the last charts of the page are drawn
    assert page.evaluate(CLIPPED) == []


CROWDED = """() => {  // subplot titles outside their chart or on top of each other; column labels on top of each other
  const out = [], hit = (a, b) => a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1;
  for (const gd of document.querySelectorAll('.js-plotly-plot')) {
    const box = gd.getBoundingClientRect();
    const titles = Array.from(gd.querySelectorAll('.annotation-text'), t => [t.textContent, t.getBoundingClientRect()]);
    for (const [text, r] of titles)
      if (r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1) out.push('outside: ' + text);
    titles.forEach(([a, ra], i) => titles.slice(i + 1).forEach(([b, rb]) => { if (hit(ra, rb)) out.push(a + ' / ' + b); }));
    for (const sub of gd.querySelectorAll('.cartesianlayer .subplot')) {
      const ticks = Array.from(sub.querySelectorAll('.xaxislayer-above .xtick text'), t => t.getBoundingClientRect())
        .filter(r => r.width).sort((a, b) => a.left - b.left);
      ticks.slice(1).forEach((r, i) => { if (hit(ticks[i], r)) out.push('ticks overlap in ' + sub.getAttribute('class')); });
    }
  }
  return out;
}"""


@pytest.mark.parametrize("query", [{"part": "qkv"}, {"part": "scores", "n_head": "4"}, {"model": "minilm", "part": "qkv"},
                                   {"model": "minilm", "part": "mlp"}, {"model": "minilm", "part": "mlp", "n_seq": "512"},
                                   {"model": "minilm", "part": "mlp", "present": "true"}],
                         ids=["lecture-qkv", "lecture-scores", "minilm-qkv", "minilm-mlp", "minilm-mlp-512", "minilm-mlp-present"])  # fmt: skip
def test_stage_titles_and_column_labels_stay_apart(server, page, query):
    """A stage grid's titles break onto more lines rather than run into each other or off the chart (MiniLM's
    384-wide "down" beside two 1536-wide panels), and a wide feature axis names every k-th column, not all 384
    on top of each other."""
    if "n_seq" in query:
        from bench.long_inputs import text_of_length

        query = {**query, "text": text_of_length("minilm", int(query.pop("n_seq")))}
    open_page(page, f"{server}/steps?{urlencode(query)}")
    page.wait_for_timeout(500)  # the last charts of the tab are drawn
    assert page.evaluate(CROWDED) == []


def test_temperature_slider_changes_the_chart(server, page):
    open_page(page, f"{server}/scores?stage=weights")
    before = first_z(page)
    slide_to(page, "Temperature", 2.0)  # from 1.0
    page.wait_for_url(re.compile(r"temperature=2\.0"), timeout=30_000)  # the link follows the control
    page.wait_for_function(  # the chart may be mid-redraw (no _fullData yet): keep waiting rather than throw
        f"""() => {{ const g = document.querySelector('{CHART}');
            return !!(g && g._fullData && g._fullData[0] && g._fullData[0].z[0][0] !== {float(before[0, 0])!r}); }}""",
        timeout=30_000,
    )
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=60_000)
    after = first_z(page)
    run = registry.run("lecture", Settings().text, temperature=2.0)
    np.testing.assert_allclose(after, stages(run, 0, 0).weights[0], rtol=1e-4, atol=1e-6)
    assert not np.allclose(before, after)
    assert page.errors == []


def test_shared_link_reproduces_the_view(server, page, fresh_page):
    view = dict(text="the cat saw the dog", temperature="2.0", causal="true", similarity="cosine", stage="weights")
    open_page(page, f"{server}/")  # someone else's session is open at the same time, on other settings
    open_page(fresh_page, f"{server}/scores?{urlencode(view)}")
    run = registry.run("lecture", view["text"], temperature=2.0, causal=True, similarity="cosine")
    expected = stages(run, 0, 0).weights[0]
    np.testing.assert_allclose(first_z(fresh_page), expected, rtol=1e-4, atol=1e-6)
    assert fresh_page.get_by_label("Sentence", exact=True).input_value() == view["text"]
    labels = fresh_page.evaluate(f"() => Array.from(document.querySelector('{CHART}').data[0].x)")
    assert labels == ["the (0)", "cat", "saw", "the (3)", "dog"]  # duplicates stay distinct
    for key, value in view.items():
        assert f"{key}={value.replace(' ', '+')}" in fresh_page.url  # the link survives the first run
    assert fresh_page.errors == []


def test_bad_link_shows_a_notice_not_a_crash(server, page):
    open_page(page, f"{server}/?temperature=-3&model=../../etc/passwd&layer=abc")
    text = page.locator('[data-testid="stAlert"]').all_inner_texts()
    assert any("temperature" in t for t in text) and any("model" in t for t in text)
    assert page.locator(EXCEPTION).count() == 0
    assert "passwd" not in page.url  # the bad value is gone from the link


def test_the_share_control_gives_a_link_that_reopens_the_view(server, page, fresh_page):
    open_page(page, f"{server}/scores?stage=weights&text=the+cat+saw+the+dog&causal=true")
    slide_to(page, "Temperature", 0.5)  # from 1.0
    page.wait_for_url(re.compile(r"temperature=0\.5"), timeout=30_000)
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=60_000)
    page.get_by_text("Share this view").click()
    link = page.locator('[data-testid="stSidebar"] [data-testid="stCode"] code').inner_text().strip()
    assert link.startswith(f"{server}/scores?") and "temperature=0.5" in link and "causal=true" in link
    shown = first_z(page)
    open_page(fresh_page, link)
    np.testing.assert_allclose(first_z(fresh_page), shown, rtol=1e-6)
    assert fresh_page.errors == [] and page.errors == []


def test_presentation_mode_collapses_the_controls(server, page):
    open_page(page, f"{server}/")
    sidebar = page.locator('[data-testid="stSidebar"]')
    assert sidebar.bounding_box()["width"] > 100
    page.get_by_text("Presentation mode").click()
    page.wait_for_url(re.compile(r"present=true"), timeout=30_000)
    page.wait_for_function(
        "() => document.querySelector('[data-testid=\"stSidebar\"]').getBoundingClientRect().right <= 0",
        timeout=30_000,
    )
    size = page.evaluate(f"() => document.querySelector('{CHART}')._fullLayout.font.size")
    assert size >= 20  # figures carry the projector's font size
    page.wait_for_function(  # the chosen word in the page's select box turns projector-sized too (after the rerun)
        """() => parseFloat(getComputedStyle(document.querySelector(
            '[data-testid="stMainBlockContainer"] [data-testid="stSelectbox"] input')).fontSize) >= 20""",
        timeout=30_000,
    )
    assert page.errors == []


def test_the_head_summary_is_a_table_that_grows_with_presentation_mode(server, page):
    cell_px = "() => parseFloat(getComputedStyle(document.querySelector('[data-testid=\"stTable\"] td')).fontSize)"
    sizes = []
    for query in ("", "?present=true"):
        open_page(page, f"{server}/heads{query}")
        assert page.locator('[data-testid="stDataFrame"]').count() == 0  # static: no data grid to load
        assert page.locator('[data-testid="stTable"] thead th').first.inner_text().strip() == "head"  # rows named
        sizes.append(page.evaluate(cell_px))
    assert sizes[0] < 16 and sizes[1] >= 18  # 14 px at a desk, 19 px on a projector
    assert page.errors == []


COUNT_MESSAGES = """(() => { window.__messages = 0;
  window.WebSocket = class extends window.WebSocket {  // a subclass keeps OPEN, CLOSED and the rest
    constructor(...args) { super(...args); this.addEventListener('message', () => { window.__messages += 1; }); }
  }; })()"""


def messages_after(page, action):  # -> int: websocket messages from the server while `action` reran the page
    page.evaluate("() => { window.__messages = 0; }")
    action()
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=30_000)
    page.wait_for_timeout(300)  # the last messages (script finished) arrive after the status widget goes
    return page.evaluate("() => window.__messages")


def warmer(page):  # one Temperature step: a sidebar control, so the whole page reruns
    thumb = page.get_by_role("slider", name="Temperature")
    thumb.focus()
    thumb.press("ArrowRight")
    page.wait_for_url(re.compile(r"temperature="), timeout=30_000)


def test_a_query_token_reruns_only_its_row_and_the_link_follows(server, page):
    """The query picker on /scores is an st.fragment: only its row reruns (far fewer messages than a full rerun),
    its bars change, the heatmap keeps its numbers, and the link follows (a fragment's rerun skips app.py, which
    writes the link after a full run, so the fragment writes it itself; without that, this test fails)."""
    page.add_init_script(COUNT_MESSAGES)
    open_page(page, f"{server}/scores?stage=weights", charts=2)
    page.evaluate("""() => { const gd = document.querySelectorAll('.js-plotly-plot')[0]; window.__redrawn = 0;
                             gd.on('plotly_afterplot', () => { window.__redrawn += 1; }); }""")
    z = first_z(page)

    def query_banana():
        picker = page.locator('[data-testid="stSelectbox"]').filter(has_text="Query token")
        picker.evaluate("e => e.scrollIntoView({block: 'center'})")  # at the window's edge its list may not open
        picker.click()
        page.get_by_role("option", name="banana", exact=True).click()
        page.wait_for_url(re.compile(r"query=banana"), timeout=30_000)
        page.get_by_text("Where “banana” looks").wait_for(timeout=30_000)

    fragment = messages_after(page, query_banana)
    assert page.evaluate("() => window.__redrawn") == 0  # the heatmap was not drawn again
    np.testing.assert_array_equal(first_z(page), z)
    full = messages_after(page, lambda: warmer(page))
    assert 0 < fragment * 2 < full, (fragment, full)  # the token reran only its row; temperature, everything
    assert page.errors == []


def pull_spec(page):  # -> str: what plotly.js draws in the overview's second chart, the pull
    return page.evaluate("() => JSON.stringify(document.querySelectorAll('.js-plotly-plot')[1].data)")


def test_following_another_word_reruns_only_the_pull_and_the_link_follows(server, page):
    """The overview's word picker is an st.fragment too: only its column reruns (far fewer messages than the
    full rerun a sidebar control causes), the pull follows the new word, the heatmap beside it keeps its numbers,
    and the link names the word."""
    page.add_init_script(COUNT_MESSAGES)
    open_page(page, server, charts=2)
    z, pull = first_z(page), pull_spec(page)
    assert page.get_by_text("looks mostly at").inner_text().startswith("apple")

    def follow_banana():
        page.locator('[data-testid="stSelectbox"]').filter(has_text="Follow one word").click()
        page.get_by_role("option", name="banana", exact=True).click()
        page.wait_for_url(re.compile(r"word=banana"), timeout=30_000)
        page.get_by_text(re.compile(r"^banana looks mostly at")).wait_for(timeout=30_000)

    fragment = messages_after(page, follow_banana)
    np.testing.assert_array_equal(first_z(page), z)
    assert pull_spec(page) != pull  # the pull was drawn again, for the new word
    full = messages_after(page, lambda: warmer(page))
    assert 0 < fragment * 2 < full, (fragment, full)  # the word reran only its column; temperature, everything
    assert page.errors == []


SHOWS = f"""(title) => {{  // the first chart is drawn and its layout (titles, panel titles) holds `title`
  const g = document.querySelector('{CHART}');
  return !!(g && g._fullLayout && g.querySelector('.main-svg') && JSON.stringify(g.layout).includes(title))
    && !!document.querySelector('[data-test-script-state="notRunning"]');
}}"""
STEP_TABS = [  # /steps' tabs after the first: (name, link value, a title its chart shows)
    ("Queries, keys, values", "qkv", "Q = X·W_q"),
    ("Scores → weights", "scores", "QKᵀ"),
    ("Weighted sum → output", "output", "weights·V"),
    ("Why ÷√d_head", "scale", "Softmax over"),
]


def open_tab(page, name):  # clicks one of /steps' tabs and waits for its chart (a lazy tab reruns the page)
    _, part, title = next(t for t in STEP_TABS if t[0] == name)
    page.get_by_role("tab", name=name).click()
    page.wait_for_url(re.compile(rf"part={part}"), timeout=30_000)
    page.wait_for_function(SHOWS, arg=title, timeout=60_000)


def test_steps_tabs_open_one_step_at_a_time(server, page, fresh_page, screenshots):
    """/steps holds one step per tab; a tab's charts are drawn when it opens, the link names it, its Next button
    opens the following one, and the link reopens that tab in a fresh browser."""
    open_page(page, f"{server}/steps")
    assert page.locator(CHART).count() == 1  # X alone on a first visit
    run = registry.run("lecture", Settings().text)
    np.testing.assert_allclose(first_z(page, 0), run.hidden[0], rtol=1e-5, atol=1e-6)
    for name, part, _ in STEP_TABS:
        open_tab(page, name)
        assert page.locator(CHART).count() == 1 and page.locator(EXCEPTION).count() == 0
        shoot(page, screenshots / f"steps-{part}.png")
    open_tab(page, "Queries, keys, values")
    np.testing.assert_allclose(first_z(page, 0), stages(run, 0, 0).queries[0], rtol=1e-5, atol=1e-6)
    page.get_by_role("button", name="Next: Scores → weights").click()
    page.wait_for_url(re.compile(r"part=scores"), timeout=30_000)
    page.wait_for_function(SHOWS, arg="QKᵀ", timeout=60_000)
    np.testing.assert_allclose(first_z(page, 0), stages(run, 0, 0).scores[0], rtol=1e-5, atol=1e-5)
    fresh = fresh_page  # another browser opens the link
    open_page(fresh, page.url)
    assert fresh.get_by_role("tab", name="Scores → weights").get_attribute("aria-selected") == "true"
    np.testing.assert_allclose(first_z(fresh, 0), stages(run, 0, 0).scores[0], rtol=1e-5, atol=1e-5)
    assert page.errors == []


def test_editing_a_weight_cell_reaches_the_charts_and_the_link(server, page):
    """/steps reads the editors' edits before it draws them (the editors come after the charts, and only once their
    expander is opened, so their JavaScript does not hold up the first chart). Typed into the real grid, an edit
    must still reach Q (on the next tab, checked against the backend with the same edited W_q) and the link."""
    open_page(page, f"{server}/steps")
    assert page.locator('[data-testid="stDataFrame"]').count() == 0  # closed: no grid on a first visit
    page.get_by_text("See and edit W_q, W_k, W_v, W_o").click()
    grid = page.locator('[data-testid="stDataFrame"]').first  # W_q, the open tab
    grid.scroll_into_view_if_needed()
    grid.locator("canvas").first.wait_for(state="visible", timeout=30_000)  # the grid's chunk has loaded
    page.wait_for_timeout(300)  # and it has laid out its cells
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 10, box["y"] + 35 + 17)  # row 0's index cell (below the 35 px header row)
    page.keyboard.press("ArrowRight")  # W_q[food, food]
    page.keyboard.type("5")
    page.locator("input.gdg-input").wait_for(timeout=30_000)  # the grid's cell editor has opened, holding "5"
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"edits=q\.0\.0%3D5"), timeout=30_000)
    # only the open tab's grid is drawn; closing W_q's must not lose its edit, and reopening it draws a new editor
    for tab, key in [("W_k", "edit_w_k_identity_1_0_0"), ("W_q", "edit_w_q_identity_1_0_1")]:
        page.get_by_role("tab", name=tab).click()
        page.locator(f".st-key-{key}").wait_for(timeout=30_000)  # the rerun drew that tab's (keyed) editor
        page.wait_for_function(
            """() => document.querySelector('[data-test-script-state="notRunning"]')
                && document.querySelectorAll('[data-testid="stDataFrame"]').length === 1""",
            timeout=30_000,
        )
        assert re.search(r"edits=q\.0\.0%3D5", page.url), page.url
    open_tab(page, "Queries, keys, values")
    w = preset_weights("identity", 1)
    w["w_q"][0, 0] = 5.0
    run = registry.run("lecture", Settings().text, weights=w)
    np.testing.assert_allclose(first_z(page, 0), stages(run, 0, 0).queries[0], rtol=1e-5, atol=1e-6)
    plain = registry.run("lecture", Settings().text)
    assert not np.allclose(first_z(page, 0), stages(plain, 0, 0).queries[0])
    assert page.get_by_text("Computed with your edited weights").count() == 1
    assert page.locator(EXCEPTION).count() == 0 and page.errors == []

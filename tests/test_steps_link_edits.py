"""Edited lecture weights travel in the link (`edits`), so a shared /steps view shows the same matrices."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_app_pull_steps_compare import app, edit, ok, open_editors, panel, part_charts, show, steps_charts

from attention import registry
from attention.lecture import AXES, AXIS_LABELS, D_MODEL
from attention.presets import preset_weights
from ui import params


def test_encode_lists_only_the_changed_cells():
    base = preset_weights("identity", 1)
    edited = {k: v.copy() for k, v in base.items()}
    edited["w_q"][3, 5], edited["w_o"][0, 23] = 1.5, -0.25
    assert params.encode_edits(base, edited) == "q.3.5=1.5;o.0.23=-0.25"
    assert params.encode_edits(base, base) == ""


@given(st.lists(st.tuples(st.sampled_from("qkvo"), st.integers(0, D_MODEL - 1), st.integers(0, D_MODEL - 1),
                          st.floats(-100, 100).map(lambda v: round(v, 6))), max_size=20))  # fmt: skip
def test_edits_round_trip_through_the_link(cells):
    base = preset_weights("random", 2)
    edited = {k: v.copy() for k, v in base.items()}
    for name, r, c, value in cells:
        edited[f"w_{name}"][r, c] = value
    raw = params.encode_edits(base, edited)
    parsed, notice = params.parse_edits(raw, D_MODEL) if raw else ([], None)
    assert notice is None
    rebuilt = {k: v.copy() for k, v in base.items()}
    for name, r, c, value in parsed:
        rebuilt[name][r, c] = value
    for name in edited:
        np.testing.assert_array_equal(rebuilt[name], edited[name])


@pytest.mark.parametrize(
    "raw",
    ["q.3.5", "x.0.0=1", "q.24.0=1", "q.0.0=1e9", "q.0.0=nan", "q.0.0=101", "../etc=1", "q.0.0=1;;", "", ["q.0.0=1", "q.0.1=1"],
     "q.0.0=1;" * 200],
)  # fmt: skip
def test_bad_edits_fall_back_with_a_notice(raw):
    assert params.parse_edits(raw, D_MODEL) == ([], params.parse_edits("bad", D_MODEL)[1])


def test_an_edit_writes_the_link_and_the_link_reproduces_the_view():
    at = ok(app("steps"))
    ok(edit(at, "w_q", 0, "technology", 2.0))  # W_q[food, technology] = 2
    cell = f"q.0.{AXES.index('technology')}=2"
    assert at.query_params["edits"] in (cell, [cell])  # AppTest may hold a query value as a one-item list
    edited_q = panel(part_charts(at, "qkv")[0], "Q = X·W_q")

    fresh = ok(app("steps", edits=cell))  # another browser opens the link
    np.testing.assert_allclose(panel(part_charts(fresh, "qkv")[0], "Q = X·W_q"), edited_q, atol=1e-6)
    w = preset_weights("identity", 1)
    w["w_q"][0, AXES.index("technology")] = 2.0
    run = registry.run("lecture", fresh.session_state["settings"].text, weights=w)
    np.testing.assert_allclose(panel(part_charts(fresh, "scores")[0], "softmax"), run.weights[0, 0], atol=1e-6)

    show(fresh, "x").button[0].click().run()  # Reset, in the first tab: the preset again, the edits leave the link
    ok(fresh)
    assert "edits" not in fresh.query_params


def test_a_bad_edits_link_shows_the_preset_and_a_notice():
    plain = steps_charts(ok(app("steps")))
    at = ok(app("steps", edits="q.0.0=1e9"))
    assert any("edits" in w.value for w in at.warning)
    np.testing.assert_allclose(panel(part_charts(at, "qkv")[0], "Q = X·W_q"), panel(plain[1], "Q = X·W_q"))


@pytest.mark.parametrize(
    "edited_rows",
    [
        {},
        {0: {"food": 5.0}},
        {"3": {"animal": -2, "time": 0.125}, 23: {"food": 1e-7}},
        {1: {"food": None}},  # a cleared cell
        {2: {"sport": "abc"}, 4: {"sport": [1, 2]}},  # not numbers
        {5: {"music": True}, 6: {"music": 1e300}},
    ],
)
@pytest.mark.filterwarnings("ignore:overflow encountered in cast")  # 1e300 in float32, on both sides
def test_edits_read_before_the_editor_match_what_the_editor_returns(edited_rows):
    """/steps applies the editors' state itself, before drawing them (so their JavaScript comes after the charts).
    The reference is Streamlit's own code that builds st.data_editor's return value from the same state."""
    import pyarrow as pa
    from streamlit.elements.lib.column_config_utils import determine_dataframe_schema
    from streamlit.elements.widgets.data_editor import _apply_dataframe_edits

    from ui import page

    dims = list(AXIS_LABELS)
    start = preset_weights("random", 2)["w_k"]
    state = {"edited_rows": edited_rows, "added_rows": [], "deleted_rows": []}
    frame = page.table(start, rows=dims, cols=dims)
    schema = determine_dataframe_schema(frame, pa.Table.from_pandas(frame).schema)
    theirs = _apply_dataframe_edits(frame.copy(), state, schema).to_numpy(dtype=np.float32, na_value=np.nan)
    ours = page.apply_edits(start, state, dims)
    np.testing.assert_array_equal(ours, theirs)
    assert np.array_equal(ours, start, equal_nan=True) == (not edited_rows)


def test_edits_survive_a_sentence_that_stops_the_page():
    """The editors are drawn after the charts; when the page stops early (an empty sentence), the open one is still
    drawn, so the weights stay in reach. Mending the sentence brings the edited weights back."""
    at = ok(app("steps"))
    ok(edit(at, "w_q", 0, "technology", 2.0))
    edited_q = panel(part_charts(at, "qkv")[0], "Q = X·W_q")
    text = at.text_area(key="sb_text").value
    at.text_area(key="sb_text").input("   ").run()  # on the Q, K, V tab
    assert not at.exception and not at.get("plotly_chart") and at.warning  # stopped, and said why
    assert len(at.data_editor) == 1  # the open editor is still there
    ok(at.text_area(key="sb_text").input(text).run())
    np.testing.assert_allclose(panel(part_charts(at, "qkv")[0], "Q = X·W_q"), edited_q)
    assert at.query_params["edits"] in ("q.0.1=2", ["q.0.1=2"])


def test_edits_in_a_closed_tab_are_kept_and_its_editor_starts_from_them():
    """Only the open tab's editor is drawn, and Streamlit forgets an undrawn widget's state: /steps keeps a closed
    tab's edits itself. The reference is the backend run with every edit applied to the preset."""
    w = preset_weights("identity", 1)
    expected = {k: v.copy() for k, v in w.items()}
    at = ok(open_editors(ok(app("steps"))))
    assert len(at.data_editor) == 1  # W_q's, the open tab
    ok(edit(at, "w_k", 1, "food", 3.0))  # typed into W_k's grid, whose tab then closed
    expected["w_k"][1, AXES.index("food")] = 3.0
    assert at.query_params["edits"] in ("k.1.0=3", ["k.1.0=3"])  # the link holds the weights the charts use
    del at.session_state["edit_w_k_identity_1_0_0"]  # as Streamlit forgets an undrawn widget (AppTest keeps it)
    ok(at.run())
    assert at.query_params["edits"] in ("k.1.0=3", ["k.1.0=3"])

    at.session_state["steps_edit_tab"] = "W_k"  # open W_k: its editor starts from the kept edit
    ok(at.run())
    assert len(at.data_editor) == 1
    np.testing.assert_array_equal(at.data_editor[0].value.to_numpy(dtype=np.float32), expected["w_k"])
    ok(edit(at, "w_k", 2, "animal", -1.5, generation=1))
    expected["w_k"][2, AXES.index("animal")] = -1.5
    at.session_state["steps_edit_tab"] = "W_q"  # and close it again
    ok(at.run())
    assert "edit_w_k_identity_1_0_1" not in at.session_state  # a drawn editor's state: forgotten once undrawn
    ok(at.run())
    assert at.query_params["edits"] in ("k.1.0=3;k.2.2=-1.5", ["k.1.0=3;k.2.2=-1.5"])
    run = registry.run("lecture", at.session_state["settings"].text, weights=expected)
    every = steps_charts(at)  # visits each tab, then the first again
    np.testing.assert_allclose(panel(every[1], "K = X·W_k"), run.keys[0, 0], atol=1e-5)
    np.testing.assert_allclose(panel(every[2], "softmax"), run.weights[0, 0], atol=1e-6)

    at.button[0].click().run()  # Reset: the preset in every tab
    ok(at)
    plain = registry.run("lecture", at.session_state["settings"].text, weights=w)
    np.testing.assert_allclose(panel(part_charts(at, "qkv")[0], "K = X·W_k"), plain.keys[0, 0], atol=1e-5)
    assert "edits" not in at.query_params


def test_edits_survive_a_visit_to_another_page():
    """Leaving /steps undraws every editor, and Streamlit forgets their state (AppTest does too): the open tab's
    edit and a closed tab's edit must both be there on coming back, checked against the backend."""
    expected = {k: v.copy() for k, v in preset_weights("identity", 1).items()}
    at = ok(app("steps"))
    ok(edit(at, "w_q", 0, "technology", 2.0))  # the open tab's grid
    ok(edit(at, "w_k", 1, "food", 3.0))  # a closed tab's
    expected["w_q"][0, AXES.index("technology")] = 2.0
    expected["w_k"][1, AXES.index("food")] = 3.0
    ok(at.switch_page("pages/scores.py").run())
    assert "edit_w_q_identity_1_0_0" not in at.session_state  # the drawn editor's state is gone
    ok(at.switch_page("pages/steps.py").run())
    np.testing.assert_array_equal(at.data_editor[0].value.to_numpy(dtype=np.float32), expected["w_q"])
    run = registry.run("lecture", at.session_state["settings"].text, weights=expected)
    (qkv,) = part_charts(at, "qkv")
    np.testing.assert_allclose(panel(qkv, "Q = X·W_q"), run.queries[0, 0], atol=1e-5)
    np.testing.assert_allclose(panel(qkv, "K = X·W_k"), run.keys[0, 0], atol=1e-5)


def test_advance_edits_keeps_edits_through_every_editor_the_page_does_not_draw():
    """ui.page.advance_edits, case by case: the matrix as edited, and the editor generation that shows it."""
    from ui import page

    dims = list(AXIS_LABELS)
    start = preset_weights("identity", 1)["w_k"]
    edited = start.copy()
    edited[1, AXES.index("food")] = 3.0
    state = {"edited_rows": {1: {"food": 3.0}}, "added_rows": [], "deleted_rows": []}
    fresh = (0, start, start)

    entry, m = page.advance_edits(fresh, None, True, dims)  # never drawn yet: the start, same editor
    assert entry[0] == 0 and np.array_equal(m, start)
    entry, m = page.advance_edits(fresh, state, True, dims)  # the open editor's edit: same editor, edit kept
    assert entry[0] == 0 and np.array_equal(m, edited) and np.array_equal(entry[2], edited)
    closed, m = page.advance_edits(fresh, state, False, dims)  # its tab closes: the next editor starts from it
    assert closed[0] == 1 and np.array_equal(closed[1], edited) and np.array_equal(m, edited)
    entry, m = page.advance_edits(closed, None, True, dims)  # reopened: that editor, no new one
    assert entry == closed and np.array_equal(m, edited)
    forgotten, m = page.advance_edits(entry, None, True, dims)  # its state gone later (another page): kept
    assert forgotten[0] == 1 and np.array_equal(m, edited)
    lost = (0, start, edited)  # the open editor's state forgotten while its edits differ from its start
    entry, m = page.advance_edits(lost, None, True, dims)
    assert entry[0] == 1 and np.array_equal(entry[1], edited) and np.array_equal(m, edited)
    bad = {"edited_rows": {1: {"food": None}}, "added_rows": [], "deleted_rows": []}  # a cleared cell stays NaN
    entry, m = page.advance_edits(fresh, bad, False, dims)
    assert np.isnan(m[1, 0]) and page.advance_edits(entry, None, True, dims)[0] == entry  # NaN == NaN here


def test_another_preset_and_back_starts_from_the_preset():
    at = ok(app("steps"))
    plain = panel(part_charts(at, "qkv")[0], "Q = X·W_q")
    ok(edit(show(at, "x"), "w_q", 1, "food", 3.0))  # AppTest forgets the editor once undrawn, as Streamlit does
    assert "edits" in at.query_params and not np.allclose(panel(part_charts(at, "qkv")[0], "Q = X·W_q"), plain)
    at.selectbox(key="sb_preset").set_value("random").run()
    at.selectbox(key="sb_preset").set_value("identity").run()
    ok(at)
    np.testing.assert_allclose(panel(part_charts(at, "qkv")[0], "Q = X·W_q"), plain)  # edits belong to a preset
    assert "edits" not in at.query_params


def test_the_weight_editors_open_on_demand_and_edits_outlive_a_closed_expander():
    """A first visit draws no data grid (its JavaScript would hold up the first chart): the editors' expander opens
    them. Closing it again keeps the edits in the charts, says so, and the choice outlives a visit elsewhere."""
    at = ok(app("steps"))
    assert len(at.data_editor) == 0 and not at.session_state["steps_edit_open"]
    assert any("See and edit W_q" in e.label for e in at.expander)
    assert any("open them to read the numbers" in c.value for c in at.caption)
    ok(open_editors(at))
    assert len(at.data_editor) == 1  # W_q's, the open tab
    ok(edit(at, "w_q", 0, "technology", 2.0))
    edited_q = panel(part_charts(at, "qkv")[0], "Q = X·W_q")
    assert any("Computed with your edited weights" in c.value for c in at.caption)  # said on the other tabs
    assert show(at, "x").session_state["steps_edit_open"] and len(at.data_editor) == 1  # open, as it was left
    at.session_state["steps_edit_open"] = False  # the student closes the expander
    ok(at.run())
    assert len(at.data_editor) == 0
    assert any("use your edited weights" in c.value for c in at.caption)
    assert at.query_params["edits"] in ("q.0.1=2", ["q.0.1=2"])
    np.testing.assert_allclose(panel(part_charts(at, "qkv")[0], "Q = X·W_q"), edited_q)  # still the edited weights
    ok(at.switch_page("pages/scores.py").run())
    ok(at.switch_page("pages/steps.py").run())
    np.testing.assert_allclose(panel(part_charts(at, "qkv")[0], "Q = X·W_q"), edited_q)
    assert len(show(at, "x").data_editor) == 0 and not at.session_state["steps_edit_open"]  # closed, as left


def test_a_link_with_edits_opens_the_editors_on_them():
    cell = f"q.0.{AXES.index('technology')}=2"
    at = ok(app("steps", edits=cell))
    assert at.session_state["steps_edit_open"] and len(at.data_editor) == 1
    expected = preset_weights("identity", 1)["w_q"].copy()
    expected[0, AXES.index("technology")] = 2.0
    np.testing.assert_array_equal(at.data_editor[0].value.to_numpy(dtype=np.float32), expected)

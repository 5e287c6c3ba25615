"""/steps: the whole computation with this sentence's own numbers, one step a tab, editable lecture weights, and why
÷√d_head."""

import html
from types import SimpleNamespace

import numpy as np
import streamlit as st

from attention.core import merge_heads
from attention.figures.common import token_labels
from attention.figures.heatmaps import MAX_SIDE, block_size, blocks
from attention.figures.heatmaps import MAX_TICKS as HEATMAP_TICKS
from attention.figures.steps import (
    MAX_FEATURES,
    MAX_TICKS,
    STATS,
    Panel,
    panels_table,
    saturation_figure,
    saturation_table,
    stage_grid,
    weighted_sum_text,
)
from attention.internals import before_rope
from attention.lecture import AMBIGUOUS
from attention.run import stages
from attention.saturation import saturation
from ui import internals, page, params, sidebar

WEIGHT_NAMES = ("w_q", "w_k", "w_v", "w_o")
SHOWN = {"w_q": "W_q", "w_k": "W_k", "w_v": "W_v", "w_o": "W_o"}
MAX_WEIGHT = 100.0  # edited entries beyond this only overflow the softmax; they teach nothing more
VERSION = "steps_edit_version"  # bumped by Reset: fresh editors start from the preset again
TAB = "steps_edit_tab"  # the open editor's tab label: only that editor is drawn (each grid delays the charts)
OPEN = "steps_edit_open"  # the editors' expander: closed, no grid is drawn and its 1.2 MB of JavaScript waits
PART = "steps_part"  # the open tab's label (ui.page.lazy_tabs); in the link as part=<slug>
OPEN_KEPT = "steps_edit_open_kept"  # the expander as last drawn: a widget's own state is lost on other pages
STORE = "steps_edit_store"  # {"context", name: (generation, shown, last)}: shown and last [d_model, d_model] float32,
# what each editor starts from and the matrix as last edited (ui.page.advance_edits)
LINK_EDITS = "steps_link_edits"  # (preset, n_head, cells) a shared link carried
ROPE_NOTE = (
    "RoPE turns each query and key by its token's position (the Scores page shows why): the first "
    "row holds them before the rotation (with V, which is never rotated), the second after it."
)
ALL_STAGES_UP_TO = 128  # n_seq up to which the scores section shows all four n_seq² panels (as /scores does)


@st.cache_data(show_spinner=False)
def preset_matrices(preset, n_head):  # -> {name: [d_model, d_model]} and the d_model axis labels
    from attention.lecture import AXIS_LABELS
    from attention.presets import preset_weights

    weights = preset_weights(preset, n_head)
    return {name: np.asarray(weights[name], dtype=np.float32) for name in WEIGHT_NAMES}, list(AXIS_LABELS)


@st.cache_data(show_spinner=False)
def saturation_demo():  # the √d_head statistics do not depend on the sentence: compute once per server
    return saturation()


def check_matrix(name, matrix, dims):  # [d_model, d_model] -> error message or None
    """An edited matrix must hold finite numbers of sensible size; say which cell is wrong and what to do."""
    bad = ~np.isfinite(matrix)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        return f"{SHOWN[name]}[{dims[r]}, {dims[c]}] is empty or not a number; type a number there or press Reset."
    big = np.abs(matrix) > MAX_WEIGHT
    if big.any():
        r, c = np.argwhere(big)[0]
        return (
            f"{SHOWN[name]}[{dims[r]}, {dims[c]}] = {matrix[r, c]:g} is too large; "
            f"keep weights within ±{MAX_WEIGHT:g} (softmax is already one-hot long before that)."
        )
    return None


def reset_weights():  # on_click of Reset: a new context, so every matrix starts from the preset again
    st.session_state[VERSION] = st.session_state.get(VERSION, 0) + 1
    st.session_state.pop(LINK_EDITS, None)


def start_matrices(settings, base, dims):  # -> {name: matrix}: the preset, plus the edits a shared link carries
    """A link's `edits` are read once (the run that opened it) and apply to the link's own preset and n_head."""
    raw = sidebar.seed_once("edits")
    if raw is not None:
        cells, notice = params.parse_edits(raw, len(dims))
        if notice:
            sidebar.add_notice(notice)
        st.session_state[LINK_EDITS] = (settings.preset, settings.n_head, cells)
        st.session_state[OPEN_KEPT] = bool(cells)  # a link with edits opens on them (edited_weights)
    preset, n_head, cells = st.session_state.get(LINK_EDITS, (None, None, []))
    start = {name: base[name].copy() for name in WEIGHT_NAMES}
    if (preset, n_head) == (settings.preset, settings.n_head):
        for name, r, c, value in cells:
            start[name][r, c] = value
    return start


def stored(settings, start):  # -> {name: (generation, shown, last)} for this preset, n_head and Reset
    """The session's edit store, made afresh from `start` (in session state) when the preset, n_head or Reset
    changes; otherwise the one the last run left."""
    context = (settings.preset, settings.n_head, st.session_state.setdefault(VERSION, 0))
    store = st.session_state.get(STORE)
    if store is None or store["context"] != context:
        store = {"context": context} | {name: (0, start[name], start[name]) for name in WEIGHT_NAMES}
        st.session_state[STORE] = store
    return store


def editor_key(name, settings, generation):  # the data_editor key: a new context or generation -> a fresh editor
    return f"edit_{name}_{settings.preset}_{settings.n_head}_{st.session_state.setdefault(VERSION, 0)}_{generation}"


def restore_open():  # before the expander is drawn: as the student left it, if Streamlit forgot it
    if OPEN not in st.session_state:  # (another tab or page); set only in a run that draws it (ui.page._KEPT)
        st.session_state[OPEN] = st.session_state.get(OPEN_KEPT, False)


def edited_weights(settings, drawn):  # -> (edited {name: matrix} or None, dims, store, errors)
    """The weights as edited, read from the editors' state: the editors are drawn after the charts (draw_weights),
    only in the first of the page's tabs (`drawn`: it is open) and only once their expander is opened, so that
    their JavaScript does not hold up the first chart. Only the open tab's editor is drawn; the store keeps each
    matrix as last edited, through closed tabs, a closed expander, the page's other tabs, other pages and a real
    model chosen for a while (the link drops `edits` meanwhile). Invalid edits fall back to the preset."""
    base, dims = preset_matrices(settings.preset, settings.n_head)
    store = stored(settings, start_matrices(settings, base, dims))
    if drawn:
        restore_open()
    open_name = {SHOWN[n]: n for n in WEIGHT_NAMES}.get(st.session_state.get(TAB), WEIGHT_NAMES[0])
    if not (drawn and st.session_state.get(OPEN)):
        open_name = None  # the expander is closed or not drawn: no editor is, each matrix stays as last edited
    edited, errors = {}, []
    for name in WEIGHT_NAMES:
        state = st.session_state.get(editor_key(name, settings, store[name][0]))  # None: forgotten or never drawn
        store[name], matrix = page.advance_edits(store[name], state, name == open_name, dims)
        error = check_matrix(name, matrix, dims)
        if error:
            errors.append(error)
            matrix = base[name]
        edited[name] = matrix
    changed = any(not np.array_equal(edited[n], base[n]) for n in WEIGHT_NAMES)
    sidebar.claim("edits", params.encode_edits(base, edited) if changed else "", "")  # the edits join the link
    return (edited if changed else None), dims, store, errors


def draw_weights(settings, store, dims, errors, edited):
    """The editors in an expander that draws them only when open (a first visit's charts do not wait for the data
    grid), the errors edited_weights found, and a line saying whether the charts use edited weights."""
    box = st.expander("See and edit W_q, W_k, W_v, W_o", key=OPEN, on_change="rerun", icon=":material/edit:")
    st.session_state[OPEN_KEPT] = box.open
    if box.open:
        with box:
            draw_editors(settings, store, dims)
    elif edited:
        st.caption("The charts below use your edited weights (the link keeps them); open the tables to see them "
                   "or reset them.")  # fmt: skip
    else:
        st.caption(f"Four {len(dims)} × {len(dims)} matrices, one number per input and output dimension: open "
                   "them to read the numbers or type your own, and every chart below follows.")  # fmt: skip
    for error in errors:
        st.error(page.md_escape(error), icon="✋")


def draw_editors(settings, store, dims):
    """W_q, W_k, W_v, W_o as tabs holding one editable table, the open one's, and the Reset button."""
    d_head = len(dims) // settings.n_head
    heads = (
        f" With n_head = {settings.n_head}, head h uses output columns {d_head}·h to {d_head}·h + {d_head - 1}."
        if settings.n_head > 1
        else ""
    )
    st.caption(
        f"Rows: the input's {len(dims)} dimensions; columns: the output's.{heads} "
        "Click a cell, type a number, press Enter: everything below updates, and the link keeps your edits."
    )
    tabs = st.tabs([SHOWN[n] for n in WEIGHT_NAMES], key=TAB, on_change="rerun")
    for tab, name in zip(tabs, WEIGHT_NAMES, strict=True):
        if tab.open:
            generation, shown, _ = store[name]
            frame = page.table(shown, rows=dims, cols=dims)
            tab.data_editor(frame, key=editor_key(name, settings, generation), width="content")
    st.button("Reset weights to the preset", icon=":material/restart_alt:", on_click=reset_weights)


def default_row(run):  # -> the query row to spell out first: an ambiguous word, else the last token
    return next((i for i, t in enumerate(run.tokens) if t in AMBIGUOUS), run.n_seq - 1)


def head_columns(dims, n_head, head):  # -> the d_head labels of one head's slice
    d_head = len(dims) // n_head
    return [f"{d}" for d in dims[head * d_head : (head + 1) * d_head]]


def lazy_csv(panels, name):
    """Like page.csv_download, but the CSV is written only when clicked: at n_seq = 512 the four score
    matrices are a million rows, seconds of work that most reruns never need."""
    st.download_button(
        f"CSV: {name}",
        lambda: panels_table(panels).to_csv(index=False).encode("utf-8"),
        file_name=f"{name}.csv",
        mime="text/csv",
        key=f"csv-{name}",
        icon=":material/download:",
    )


def section(title, panels, name, n_cols=None, present=False, shown=None, note=None):
    """One row of the computation: a stage grid (of `shown` panels if given) with the CSV of every panel."""
    st.subheader(title)
    if note:
        st.caption(note)
    fig = stage_grid(shown or panels, n_cols=n_cols, present=present)
    page.chart(fig, name)
    internals.clip_caption([fig])
    lazy_csv(panels, name)


def parts(lecture):  # -> {slug: tab label}: the page's tabs, in the order of the computation
    """One step a tab, drawn only when open (ui.page.lazy_tabs): a first visit sends X, not the page's every
    chart. The slugs go in the link as `part` and match attention.views.STEP_PARTS where they overlap."""
    return {
        "x": "Input X and the weights" if lecture else "Input X",
        "qkv": "Queries, keys, values",
        "scores": "Scores → weights",
        "output": "Weighted sum → output",
        **({} if lecture else {"mlp": "Norms and MLP"}),
        "scale": "Why ÷√d_head",
    }


def next_button(tabs, part):  # at the end of a tab: open the next one, as a lecturer steps through
    slugs = list(tabs)
    if part != slugs[-1]:
        label = tabs[slugs[slugs.index(part) + 1]]
        st.button(f"Next: {label}", icon=":material/arrow_forward:", on_click=page.go_to, args=(PART, label),
                  key=f"steps-next-{part}")  # fmt: skip


def draw_input(v):  # section 1 (and 2, the lecture weights): X, the layer's input
    if v.layer == 0:
        what = "the embeddings" if v.lecture else "the embeddings (token + position)"
    else:
        what = f"after {v.layer} pull step(s)" if v.lecture else f"the hidden state entering layer {v.layer}"
    st.subheader(f"1 · The input X  [n_seq, d_model]: {what}")
    st.caption("One row per token. In the lecture model every column is a meaning you can read." if v.lecture else "")
    x = v.run.hidden[v.layer]  # [n_seq, d_model]: the input of this layer (the embeddings at layer 0)
    fig = stage_grid([Panel("X", x, v.rows, v.dims, "[n_seq, d_model]")], present=v.present)
    page.chart(fig, "steps-x")
    internals.clip_caption([fig])
    page.csv_download(x, "steps-x", rows=v.run.tokens, cols=v.dims)
    if v.lecture:
        st.subheader("2 · The learned weights W_q, W_k, W_v, W_o  [d_model, d_model]")
        draw_weights(v.settings, v.store, v.dims, v.errors, v.edited)
    else:
        st.info("Real checkpoints' weight matrices are not editable here; the numbers below are the model's own.")


def draw_qkv(v):
    run, rows, cols = v.run, v.rows, v.cols
    st_ = stages(run, v.layer, v.head)  # this head's every stage, [1, ...]: only the tabs that show them compute it
    q_name = "Q = X·W_q" if v.lecture else ("Q after RoPE" if run.rope is not None else "Q")
    qkv = [
        Panel(q_name, st_.queries[0], rows, cols, "[n_seq, d_head]"),
        Panel(q_name.replace("Q", "K").replace("_q", "_k"), st_.keys[0], rows, cols, "[n_seq, d_head]"),
        Panel(q_name.replace("Q", "V").replace("_q", "_v").replace(" after RoPE", ""), st_.values[0], rows, cols,
              "[n_seq, d_head]"),
    ]  # fmt: skip
    if run.rope is not None:  # RoPE rotates q and k (not v) by each token's position: show them before it too
        q0, k0 = before_rope(run, v.layer, v.head)
        before = [Panel("Q before RoPE", q0, rows, cols, "[n_seq, d_head]"), Panel("K before RoPE", k0, rows, cols, "[n_seq, d_head]")]  # fmt: skip
        qkv = [*before, qkv[2], qkv[0], qkv[1]]  # first row: before the rotation (and V); second row: after it
    section(
        f"{v.first + 0} · Queries, keys, values for {v.where}  [n_seq, d_head]",
        qkv,
        "steps-qkv",
        n_cols=3 if run.rope is not None else None,
        present=v.present,
        note=" ".join(filter(None, [internals.gqa_line(run, v.head), ROPE_NOTE if run.rope is not None else None])),
    )


def draw_scores(v):
    run, rows, st_ = v.run, v.rows, stages(v.run, v.layer, v.head)
    mask = np.ones((run.n_seq, run.n_seq), dtype=bool) if run.mask is None else run.mask
    score_panels = [
        Panel("QKᵀ" if run.similarity == "dot" else "cos(q, k)", st_.scores[0], rows, rows, "[n_seq, n_seq]"),
        Panel(f"× {st_.scale:.3g}" + (" (÷√d_head)" if st_.scale != 1 else ""), st_.scaled[0], rows, rows,
              "[n_seq, n_seq]"),
        Panel("mask" + (" (causal)" if run.mask is not None else " (none)"), mask, rows, rows, "[n_seq, n_seq]",
              "mask"),
        Panel(f"softmax(· / {run.temperature:g})", st_.weights[0], rows, rows, "[n_seq, n_seq]", "weights"),
    ]  # fmt: skip
    shown = note = None
    if run.n_seq > ALL_STAGES_UP_TO:  # each n_seq² panel is megabytes: leave out those that show nothing new
        raw, _, masked, softmaxed = score_panels
        shown = [raw, softmaxed] if run.mask is None else [raw, masked, softmaxed]
        same = ("equal the raw ones (cosine scores are not scaled)" if st_.scale == 1
                else f"are the raw ones × {st_.scale:.3g}, the same picture on a smaller colour scale")  # fmt: skip
        left_out = "that panel is" if run.mask is not None else "that panel and the mask (which allows every key) are"
        note = f"{run.n_seq} tokens: the scaled scores {same}, so {left_out} left out here; the CSV holds all four."
    section(
        f"{v.first + 1} · Scores become weights  [n_seq, n_seq]: each row is a query, each column a key",
        score_panels,
        "steps-scores",
        n_cols=2,
        present=v.present,
        shown=shown,
        note=note,
    )


def draw_output(v):
    run, rows, cols, dims, layer = v.run, v.rows, v.cols, v.dims, v.layer
    st_ = stages(run, layer, v.head)
    concat = merge_heads(run.weights[layer] @ run.values[layer])  # [n_seq, d_model]: every head's weights·V
    out_panels = [
        Panel("weights·V", st_.output[0], rows, cols, "[n_seq, d_head]"),
        Panel("Concat(heads)", concat, rows, dims, "[n_seq, d_model]"),
        Panel("Concat·W_o", run.attn_out[layer], rows, dims, "[n_seq, d_model]"),
    ]
    if v.lecture:
        out_panels.append(Panel("new X = (1−α)X + α·out", run.hidden[layer + 1], rows, dims, "[n_seq, d_model]"))
    section(
        f"{v.first + 2} · Each output row is a weighted sum of value rows; the heads are joined and projected by W_o",
        out_panels,
        "steps-output",
        n_cols=2,
        present=v.present,
    )
    query = page.url_choice("Spell out the row of", rows, "token", default=rows[default_row(run)], kept=True)
    weights = st_.weights[0][rows.index(query)]
    st.markdown(page.md_escape(weighted_sum_text(query, weights, rows)))  # not st.code: 1.5 MB of JavaScript
    if v.lecture:
        st.caption(f"The last matrix is the context pull with α = {v.settings.alpha:g}: it is X for the next step.")


def draw_mlp(v):  # real checkpoints: the rest of the layer, with its own numbers
    internals.trace_sections(v.settings, v.run, v.layer, present=v.present)


def draw_scale(v):
    st.subheader(f"{v.first + 3} · Why divide by √d_head?")
    st.markdown(
        "A dot product adds up d_head products, so random scores spread like √d_head. Without scaling, "
        "softmax turns almost one-hot as d_head grows, and its gradient vanishes; dividing by √d_head keeps it "
        "steady."
    )
    stat = page.url_choice("Show", list(STATS), "sat", format_func=STATS.get, widget=st.segmented_control,
                           label_visibility="collapsed", kept=True)  # fmt: skip
    sat = saturation_demo()
    page.chart(saturation_figure(sat, stat, present=v.present, d_head=v.run.d_head), f"saturation-{stat}")
    page.csv_download(saturation_table(sat), "saturation")


DRAW = {"x": draw_input, "qkv": draw_qkv, "scores": draw_scores, "output": draw_output, "mlp": draw_mlp,
        "scale": draw_scale}  # fmt: skip

settings = sidebar.current()
page.header(
    "Step by step",
    "Follow one sentence through attention, one matrix at a time, with its real numbers.",
)
page.formula(
    r"Q = XW_q,\; K = XW_k,\; V = XW_v,\quad \text{head} = \operatorname{softmax}\!\Big(\frac{QK^\top}{\sqrt{d_{head}}}"
    r" + \text{mask}\Big)V,\quad \text{output} = \operatorname{Concat}(\text{head}_1..\text{head}_h)\,W_o",
    caption="Every matrix in the tabs below is one term of this formula, computed for the sentence in the sidebar.",
)
notice_slot = st.container()  # filled at the end, once every control has read the link
lecture = settings.model == "lecture"
tabs = parts(lecture)
part = page.tab_choice(tabs, PART, "part")
weights, dims, store, errors = None, None, None, []
if lecture:
    weights, dims, store, errors = edited_weights(settings, drawn=part == "x")
try:
    run = page.load(settings, weights)
except page.Halt:  # a sentence that stops the page still shows the editor, so the weights stay in reach
    if lecture:
        st.subheader("The learned weights W_q, W_k, W_v, W_o  [d_model, d_model]")
        restore_open()
        draw_weights(settings, store, dims, errors, weights is not None)
    raise

layer, head = min(settings.layer, run.n_layer - 1), min(settings.head, run.n_head - 1)
dims = dims or [str(i) for i in range(run.d_model)]
view = SimpleNamespace(
    settings=settings, run=run, lecture=lecture, layer=layer, head=head, dims=dims, store=store, errors=errors,
    edited=weights is not None, present=settings.present,
    rows=[html.unescape(t) for t in token_labels(run.tokens)],  # unique, as typed; figures escape them once
    cols=head_columns(dims, run.n_head, head) if lecture else [str(i) for i in range(run.d_head)],
    where=f"layer {layer}, head {head}" + (f" of {run.n_head}" if run.n_head > 1 else ""),
    first=3 if lecture else 2,  # section numbers: the lecture model has its weights as section 2
)  # fmt: skip
page.seed_kept("token", view.rows, view.rows[default_row(run)])  # a link's choices for tabs not open yet
page.seed_kept("sat", list(STATS), next(iter(STATS)))
if run.n_seq > MAX_TICKS:
    size = block_size(run.n_seq, MAX_SIDE)  # tokens a cell: 1, or more past MAX_SIDE tokens (figures.steps.pooled)
    starts = blocks(run.n_seq, MAX_SIDE)
    pooling = (f" Past {MAX_SIDE} tokens a cell stands for {size} consecutive tokens ({size} × {size} in a query × "
               "key panel): their mean, or for the mask whether any pair is allowed. A feature side wider than "
               f"{MAX_FEATURES} is drawn as blocks of consecutive features too (each title names its blocks). The "
               "page stays quick this way; the Scores page draws every cell." if size > 1 else "")  # fmt: skip
    st.caption(f"{run.n_seq} tokens: each panel is squeezed to one screen and its axes name every "
               f"{page.ordinal(size * -(-len(starts) // HEATMAP_TICKS))} token.{pooling} Hover over a cell for its "
               "token(s) and value, or download the CSV for every number.")  # fmt: skip
shown_tabs, part = page.lazy_tabs(tabs, PART, "part")
with shown_tabs[part]:
    if view.edited and part != "x":
        st.caption("Computed with your edited weights (the first tab holds them).")
    DRAW[part](view)
    next_button(tabs, part)
with notice_slot:
    page.notices(run, settings)

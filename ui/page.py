"""What every page shares: title and one-line explanation, the formula, notices, charts and downloads.

A page reads like a recipe:
    settings = ui.sidebar.current()
    page.header("Scores", "How well each word's question matches every other word's label.")
    run = page.load(settings)            # cached backend call; a bad sentence stops here with a warning
    page.chart(figure, "scores-weights")
    page.csv_download(matrix, "weights", rows=labels, cols=labels)
"""

import html
import io
import re
from dataclasses import asdict

import numpy as np
import pandas as pd
import streamlit as st

from attention.figures.common import IMAGE_FORMATS, export_config, token_labels
from attention.models import loading as checkpoint
from attention.models.loading import ModelUnavailable
from ui import cache, params, sidebar

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>$:~&=\"'^])")


def ordinal(n):  # int -> "1st", "2nd", "3rd", "4th", "11th", "22nd"
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def md_escape(text):  # str -> str: shows as typed inside st.markdown / st.info (no links, images, LaTeX, HTML)
    """Backslash-escape every character Streamlit's markdown would read as markup."""
    return _MD_SPECIAL.sub(r"\\\1", str(text)).replace("\n", " ")


def header(title, line):
    """The page title and one sentence a first-year student understands."""
    st.title(title)
    st.markdown(line)


def formula(latex, caption=None, label="The formula behind this page"):
    """An expander with the formula the figures show (st.latex), and an optional plain-words caption.
    Its content runs only once opened: KaTeX (260 kB of JavaScript) then loads after the charts, not before."""
    box = st.expander(label, key="formula_open", on_change="rerun")
    if box.open:
        with box:
            st.latex(latex)
            if caption:
                st.caption(caption)


def notices(run=None, settings=None):
    """What the user must know: the link's fallbacks and the backend's notices (truncation, unknown words)."""
    for text in sidebar.url_notices():
        st.warning(md_escape(text) if "`" not in text else _notice_md(text), icon="🔗")
    for text in getattr(run, "notices", None) or []:
        st.info(md_escape(text), icon="ℹ️")


def _notice_md(text):  # our own notices quote the parameter name in `backticks`; escape everything else
    parts = text.split("`")
    return "".join(f"`{p}`" if i % 2 else md_escape(p) for i, p in enumerate(parts))


class Halt(Exception):
    """A page stops here, after saying why. Not st.stop(): app.py catches this and still draws the sidebar, which
    comes after the page (after st.stop() Streamlit would refuse every element, and the controls would be gone)."""


def halt():
    raise Halt


def load(settings, weights=None):  # -> Run, or stops the page with a clear message
    """The cached backend call; bad input (empty text, ...) shows a warning and stops the page, never a traceback."""
    try:
        return cache.get_run(settings, weights)
    except ModelUnavailable as err:
        offer_download(settings.model, err)
        halt()
    except ValueError as err:
        st.warning(md_escape(err), icon="✋")
        halt()


def offer_download(model, err):
    """A real model not on this server: say how to get it, and offer to fetch it from the Hugging Face hub once
    (cached on disk afterwards), with a progress bar. Only a click downloads; a link never does."""
    st.warning(md_escape(err), icon="📦")
    if not st.button(f"Download {model} from the Hugging Face hub", key=f"download-{model}"):
        return
    bar = st.progress(0.0, text="Starting the download…")
    try:
        checkpoint.download(model, progress=lambda fraction, text: bar.progress(min(max(fraction, 0.0), 1.0), text))
    except Exception as failure:  # offline, hub down, disk full: say so, keep the page
        st.error(f"The download failed: {md_escape(failure)}. Check the server's internet access, or install the "
                 "checkpoint locally (see the README).", icon="🚫")  # fmt: skip
        return
    st.rerun()


IMAGE_FORMAT = "image_format"  # session key of the sidebar's "camera saves" choice (see image_format_control)


def chart(fig, name, **kwargs):
    """A plotly figure at full width. Its toolbar's camera saves it as PNG (scale 2) or SVG, whichever the sidebar
    says, in the browser with no server work; a button under it downloads an interactive HTML file of it."""
    kwargs.setdefault("theme", None)  # the figure's own theme (common.theme): the page shows what the PNG holds
    image_format = st.session_state.get(IMAGE_FORMAT) or "png"
    st.plotly_chart(fig, width="stretch", config=export_config(name, image_format), **kwargs)
    html_download(fig, name)


def html_download(fig, name):
    """The chart as one HTML file with plotly.js inside: it opens offline (a lecture hall without a network) and
    keeps the hover. Built on click only (4.7 MB of plotly.js a file)."""
    from attention.figure_file import slug, to_html  # on first use: the dashboard may never need it

    stem = slug(name)
    st.download_button(
        "Interactive HTML",
        lambda: to_html(fig, stem).encode("utf-8"),
        file_name=f"{stem}.html",
        mime="text/html",
        key=f"html-{stem}",
        icon=":material/download:",
        help="The chart as a web page that opens without a network, for slides; hover still works",
    )


def image_format_control():  # in the sidebar, after its settings: what every chart's camera button saves
    """Not in the link: it changes no view, only the file a click on a chart's camera saves."""
    st.sidebar.segmented_control(
        "Chart camera saves",
        IMAGE_FORMATS,
        default="png",
        key=IMAGE_FORMAT,
        format_func=str.upper,
        help="The camera in each chart's toolbar saves a PNG (slides) or an SVG (papers), made in your browser",
    )


def labels(run):  # -> list[str] n_seq, unique and as typed: for widgets, CSV and md_escape (figures escape their own)
    return [html.unescape(t) for t in token_labels(run.tokens)]


def focus_token(run):  # -> int: the token a page follows first
    """The sentence's ambiguous word (apple, bank, it, ...) if it has one, else the token that moves most."""
    from attention.vocab import AMBIGUOUS

    hits = [i for i, t in enumerate(run.tokens) if str(t).lower() in AMBIGUOUS]
    return hits[0] if hits else int(np.argmax(np.linalg.norm(run.hidden[-1] - run.hidden[0], axis=-1)))


def table(array, rows=None, cols=None):  # [n_rows, n_cols] or [n] -> DataFrame
    a = np.asarray(array)
    if a.ndim == 1:
        a = a[:, None]
    return pd.DataFrame(a, index=rows, columns=cols)


def apply_edits(matrix, state, cols):  # [n_rows, n_cols], a data_editor's state, column names -> edited copy
    """What st.data_editor returns for `matrix` (shown with columns `cols`), computed from the editor's state
    before the editor is drawn: row position -> column name -> value. A cleared cell, or a value that is not a
    number, becomes NaN, as in Streamlit; an edit that names no cell is skipped."""
    out = np.array(matrix, dtype=np.float32)
    cols = list(cols)
    for row, cells in (state or {}).get("edited_rows", {}).items():
        for col, value in cells.items():
            try:
                r, c = int(row), cols.index(col)
            except (TypeError, ValueError):
                continue
            if not 0 <= r < out.shape[0]:
                continue
            try:
                with np.errstate(over="ignore"):  # 1e300 -> inf in float32, as in Streamlit; check_matrix says so
                    out[r, c] = np.nan if value is None else float(value)
            except (TypeError, ValueError, OverflowError):
                out[r, c] = np.nan
    return out


def advance_edits(entry, state, is_open, cols):  # ((generation, shown, last), state, bool, labels) -> (entry, matrix)
    """One weight editor's bookkeeping for a run, when only the open tab's editor is drawn. `shown` [n, n] is what
    the current editor (key generation) started from, `last` [n, n] the matrix as last edited. Streamlit forgets an
    editor that is not drawn (a closed tab; the page while another is open): its state reads None, and `last`
    stands. An editor about to be forgotten (its tab closed) or already forgotten with edits gives way to the next
    generation, which starts from the edits. Returns the new entry and the matrix as edited now."""
    generation, shown, last = entry
    matrix = last if state is None else apply_edits(shown, state, cols)
    if (state is not None and not is_open) or (state is None and not np.array_equal(matrix, shown, equal_nan=True)):
        generation, shown = generation + 1, matrix
    return (generation, shown, matrix), matrix


def csv_download(data, name, rows=None, cols=None, label=None):
    """A button that downloads the numbers behind a figure as CSV (a DataFrame, or an array with labels)."""
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-") or "attention"
    st.download_button(  # the CSV is written on click: a 512 x 512 table costs ~0.6 s, not worth it on every rerun
        label or f"CSV: {name}",
        lambda: (data if isinstance(data, pd.DataFrame) else table(data, rows, cols)).to_csv().encode("utf-8"),
        file_name=f"{slug}.csv",
        mime="text/csv",
        key=f"csv-{slug}",
        icon=":material/download:",
    )


MAX_BYTES = {".npz": 256e6, ".json": 64e6}  # bigger files cost the server seconds and memory on every click


def state_downloads(run, name="attention-run", settings=None):
    """The whole run and the view's settings as .npz and .json, through the backend's exporter. A file past its
    MAX_BYTES is not built here: its button is disabled, and the page says how to write it on one's own machine."""
    from attention import export

    view = asdict(settings or sidebar.current())
    too_big = {}  # suffix -> estimated bytes, for the files not offered
    for col, ext, fn, mime in zip(
        st.columns(2),
        (".npz", ".json"),
        (export.to_npz_bytes, export.to_json_bytes),
        ("application/octet-stream", "application/json"),
        strict=True,
    ):
        size = export.estimated_size(run, ext)
        if size > MAX_BYTES[ext]:
            too_big[ext] = size
        col.download_button(
            f"Whole run as {ext}",
            lambda fn=fn: fn(run, view),
            file_name=f"{name}{ext}",
            mime=mime,
            key=f"state-{name}-{ext[1:]}",
            icon=":material/download:",
            disabled=ext in too_big,
        )
    if too_big:
        sizes = " and ".join(f"as {ext} about {size / 1e6:,.0f} MB" for ext, size in too_big.items())
        smaller = " (the .npz holds the same arrays in about a third of the space)"
        ext, npz_instead = (".npz", "") if ".npz" in too_big else (".json", smaller)
        st.caption(
            f"At {run.n_seq} tokens the whole run {sizes} is too much to build here{npz_instead}. Write it on your "
            f"own machine: `python -m attention export --model {view.get('model', '...')} --text-file sentence.txt "
            f"--out run{ext}` (`--help` lists the options for this view's other settings)."
        )


def seed_from_link(key, parse, store=None):  # parse(raw) -> (value, notice | None)
    """On the session's first run, the link's value for a page's own `key` (checked by `parse`) becomes the
    widget's state, or goes to store(value); a bad value falls back with a notice."""
    raw = sidebar.seed_once(key)
    if raw is not None:
        value, notice = parse(raw)
        if notice:
            sidebar.add_notice(notice)
        if store is None:
            st.session_state[key] = value
        else:
            store(value)


_KEPT = "page_kept"  # {widget key: its value when last drawn}, for controls that some runs leave out
# Streamlit forgets an undrawn widget's state; and a value set through st.session_state in a run that does not
# draw its widget comes back once the widget is forgotten. So such a control's value is set only in the runs that
# draw it (recall), and kept aside in between (keep, seed_kept).


def recall(key):  # just before drawing a control some runs leave out: its kept value, if Streamlit forgot it
    kept = st.session_state.get(_KEPT, {})
    if key not in st.session_state and key in kept:
        st.session_state[key] = kept[key]


def keep(key, value):  # after drawing it: what recall brings back
    st.session_state.setdefault(_KEPT, {})[key] = value


def seed_kept(key, options, default):  # the link's choice for a control not drawn yet (first run only)
    seed_from_link(key, lambda raw: params.parse_choice_param(key, raw, options, default), lambda v: keep(key, v))


def url_choice(label, options, key, default=None, widget=None, kept=False, **kwargs):  # -> the chosen option
    """A page control whose value lives in the link under `key`: read (and validated) from the link the first
    time, then written back by ui.sidebar.finish. `widget` is st.selectbox (default), st.radio,
    st.segmented_control, st.select_slider, ...; extra kwargs go to it. kept: the control is drawn only on some
    runs (in a lazy tab), so its last value is kept for when it is drawn again."""
    options = list(options)
    default = options[0] if default is None or default not in options else default
    seed_from_link(key, lambda raw: params.parse_choice_param(key, raw, options, default))
    if kept:
        recall(key)
    if st.session_state.get(key) not in options:  # first visit, or the options changed under it
        st.session_state[key] = default
    value = (widget or st.selectbox)(label, options, key=key, **kwargs)
    value = default if value is None else value  # segmented controls / pills may be deselected
    if kept:
        keep(key, value)
    sidebar.claim(key, value, default)
    return value


def go_to(key, value):  # on_click of a "Next" button: sets a widget's state (lives here, not in a page script)
    st.session_state[key] = value


def tab_choice(parts, key, link_key):  # {slug: label} -> the slug of the tab that will be open (nothing drawn)
    """The open tab of lazy_tabs: the one just clicked, else the link's on the session's first run, else as last
    drawn (kept through other pages); the first tab when there is none or it is not one of `parts`."""
    slugs, labels = list(parts), list(parts.values())
    seed_from_link(link_key, lambda raw: params.parse_choice_param(link_key, raw, slugs, slugs[0]),
                   lambda slug: keep(key, parts[slug]))  # fmt: skip
    label = st.session_state[key] if key in st.session_state else st.session_state.get(_KEPT, {}).get(key)
    return slugs[labels.index(label)] if label in labels else slugs[0]


def lazy_tabs(parts, key, link_key):  # {slug: label} -> ({slug: tab}, open slug)
    """st.tabs that rerun on a click, so that only the open tab's content is computed and sent: a first visit
    draws one tab's charts, not the whole page's. The open tab lives in the link as `link_key`=slug (the first
    tab is the default)."""
    slug = tab_choice(parts, key, link_key)
    if st.session_state.get(key) != parts[slug]:
        st.session_state[key] = parts[slug]
    tabs = st.tabs(list(parts.values()), key=key, on_change="rerun")
    keep(key, parts[slug])
    sidebar.claim(link_key, slug, next(iter(parts)))
    return dict(zip(parts, tabs, strict=True)), slug


def token_choice(label, run, key, **kwargs):  # -> int: the chosen token's position
    """A token picker whose link value is the token's label ("apple", "the (3)"), so a link still means the same
    word after the sentence or the model changes; starts on the sentence's ambiguous word."""
    options = labels(run)
    chosen = url_choice(label, options, key, default=options[focus_token(run)], **kwargs)
    return options.index(chosen)


def npz_bytes(**arrays):  # -> bytes: a small .npz of named arrays (for page-specific downloads)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def pick_point(plot_key, labels_key, target_key):  # on_select callback of a chart: the clicked token is followed
    """Lives in a module, not a page: a callback defined in a page script keeps that run's whole page alive."""
    from attention.figures.pull import clicked_token

    i = clicked_token(st.session_state.get(plot_key))  # the position of the clicked token, if any
    labels = st.session_state.get(labels_key, [])
    if i is not None and 0 <= i < len(labels):
        st.session_state[target_key] = labels[i]

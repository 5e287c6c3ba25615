"""The shared sidebar and the URL it mirrors.

How to use it: app.py calls `prepare()` once per rerun before the page runs, then `draw()` and `finish()` after
it (so the charts reach the browser first).
Pages call `current()` for the Settings (or read st.session_state["settings"]); they never draw sidebar
widgets of their own. A page's own URL parameter (a query token, a stage) goes through
`ui.page.url_choice`, which validates it and registers it here so `finish()` keeps it in the link.

The URL is read once per browser session (its first run): ui.params validates every value, bad ones fall
back to their defaults with a notice. After that the widgets own the state and `finish()` writes the
non-default settings back into the query string on every run, so a copied link reproduces the view.
"""

from urllib.parse import urlencode

import streamlit as st

from attention import registry
from attention.examples import EXAMPLES
from ui import cache, params
from ui.settings import Settings

STATE = "settings"  # st.session_state[STATE]: the current Settings
NOTICES = "url_notices"  # list[str]: what the link got wrong, shown by ui.page.notices
_FIRST = "_url_first"  # (raw query dict, Settings parsed from it) of this session's first run
_CLAIMED = "_url_claimed"  # {key: str} page-specific parameters registered during this run
_SEEDED = "_url_seeded"  # keys already read from the link in this session
_SHARE = "_share_slot"
_DIMS = "_sidebar_dims"  # (n_layer, n_head) prepare() found for this run: draw() offers that many
_DONE = "_url_first_run_done"  # set when the session's first run has finished
CUSTOM = "(your own sentence)"
KEY = "sb_{}".format  # widget keys, prefixed so pages' keys never collide with the sidebar's


def current():  # -> Settings
    """The Settings the sidebar produced in this run (defaults if the sidebar has not run)."""
    _through_app()
    return st.session_state.get(STATE) or Settings()


def _through_app():
    """A fresh server whose first request is a deep link (/scores) runs pages/scores.py in Streamlit's old
    pages/-folder mode, without app.py: no sidebar, no URL state. Switch that mode off and rerun through app.py;
    the page keeps its url_path, so the same page opens, now with the frame."""
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def url_notices():  # -> list[str]
    """Notices about the link that are still relevant (until the user changes a setting)."""
    first = st.session_state.get(_FIRST)
    if first is None or current() != first[1]:
        return []
    return list(st.session_state.get(NOTICES, []))


def _seed():  # first run of a session: the link's values become the widgets' starting values
    if _FIRST in st.session_state:
        return
    raw = {k: st.query_params.get_all(k) for k in st.query_params}
    settings, notices = params.parse(raw)
    for name in params.KEYS:
        st.session_state[KEY(name)] = getattr(settings, name)
    st.session_state[KEY("example")] = _example_for(settings.text)
    st.session_state[_FIRST] = (raw, settings)
    st.session_state[NOTICES] = notices
    st.session_state[_SEEDED] = set()


def _example_for(text):  # str -> the preset's name, or CUSTOM
    return next((name for name, sentence in EXAMPLES.items() if sentence == text), CUSTOM)


def _use_example():  # on_change of the preset picker: its sentence replaces the text
    name = st.session_state[KEY("example")]
    if name in EXAMPLES:
        st.session_state[KEY("text")] = EXAMPLES[name]


def _typed_text():  # on_change of the text area: the picker follows what was typed
    st.session_state[KEY("example")] = _example_for(st.session_state[KEY("text")])


def _keep(name, choices=None):  # keep a widget's value across reruns where it is hidden; fix stale choices
    k = KEY(name)
    value = st.session_state.get(k, getattr(params.DEFAULTS, name))
    if choices is not None and value not in choices:
        value = choices[0] if getattr(params.DEFAULTS, name) not in choices else getattr(params.DEFAULTS, name)
    st.session_state[k] = value


def _dims(settings):  # -> (n_layer, n_head) of the run these settings give, without failing
    try:
        run = cache.get_run(settings)
        return run.n_layer, run.n_head
    except ValueError:
        return (settings.steps if settings.model == "lecture" else 1), settings.n_head


def _describe(model):  # -> str: the model's one-line description for the selector's help
    describe = getattr(registry, "describe", None)
    try:
        return describe(model) if describe else None
    except ValueError:
        return None


def _all_models(available):  # -> list[str]: the installed models first, then the rest of the allowlist
    """Models not on this server yet stay selectable: the page then offers to download them (never a link)."""
    return [*available, *(m for m in registry.model_names() if m not in available)]


def _value(name):
    return st.session_state.get(KEY(name), getattr(params.DEFAULTS, name))


def prepare(shared=True):  # -> Settings
    """Read the link (first run) and the widgets' state into the Settings, before any widget is drawn.
    Widgets keep their values in st.session_state, so the page can run first and draw() come after it:
    the charts then reach the browser before the sidebar's widgets do.
    shared=False: the page has controls of its own (/train); the shared ones are kept, not drawn, and no run of the
    sidebar's sentence is computed for them."""
    _seed()
    st.session_state[_CLAIMED] = {}
    st.session_state[_SHARE] = None
    models, presets, heads = params.model_choices(), params.preset_choices(), params.n_head_choices()
    for name, choices in [("model", _all_models(models)), ("preset", presets), ("n_head", heads), ("similarity", None)]:
        _keep(name, choices)
    for name in ("alpha", "steps", "causal", "hide_special", "layer", "head", "present", "text", "temperature"):
        _keep(name)
    st.session_state[KEY("example")] = st.session_state.get(KEY("example"), CUSTOM)
    if not shared:  # the page does not read them: keep the values as they are, unchecked, for the other pages
        settings = st.session_state[STATE] = _settings()
        return settings
    n_layer, n_head = st.session_state[_DIMS] = _dims(_settings(layer=0, head=0))
    _clamp("layer", n_layer)
    _clamp("head", n_head)
    settings = _settings(layer=_value("layer"), head=_value("head"))
    st.session_state[STATE] = settings
    if not st.session_state.get(_DONE):  # the link's view as shown (layer/head fitted to the model): notices stay
        st.session_state[_FIRST] = (st.session_state[_FIRST][0], settings)
    return settings


def draw(shared=True):
    """The shared controls, drawn once per run after the page (see prepare). shared=False: only presentation mode
    and the share link, with a line that says where this page's controls are."""
    if not shared:
        with st.sidebar:
            st.caption("This page's settings are on the page itself. The sentence, model and head of the other "
                       "pages are kept for when you go back.")  # fmt: skip
            st.toggle("Presentation mode", key=KEY("present"), help="bigger fonts and figures; controls collapsed")
            st.session_state[_SHARE] = st.container()
        return
    models, presets, heads = params.model_choices(), params.preset_choices(), params.n_head_choices()
    n_layer, n_head = st.session_state[_DIMS]
    with st.sidebar:
        st.selectbox("Example sentence", [CUSTOM, *EXAMPLES], key=KEY("example"), on_change=_use_example)
        st.text_area("Sentence", key=KEY("text"), max_chars=params.MAX_TEXT, on_change=_typed_text, height=90)
        st.selectbox("Model", _all_models(models), key=KEY("model"), help=_describe(_value("model")),
                     format_func=lambda m: m if m in models else f"{m} (download)")  # fmt: skip
        if line := _describe(_value("model")):
            from ui.page import md_escape  # here, not at the top: ui.page imports this module

            st.caption(md_escape(line))  # layers, heads, KV heads, d_model, causal
        if _value("model") == "lecture":
            c1, c2 = st.columns(2)
            c1.selectbox("n_head", heads, key=KEY("n_head"), help="heads; each gets d_model / n_head features")
            c2.selectbox("Weights", presets, key=KEY("preset"), help="how W_q, W_k, W_v are chosen")
            st.slider("α (pull strength)", *params.ALPHA, step=0.05, key=KEY("alpha"))
            st.slider("Steps (layers)", *params.STEPS, key=KEY("steps"))
            st.toggle("Causal mask (decoder)", key=KEY("causal"), help="each token sees only itself and earlier ones")
        else:
            st.toggle("Hide [CLS]/[SEP]", key=KEY("hide_special"), help="drop special tokens, renormalise rows")
        st.slider("Temperature", *params.TEMPERATURE, step=0.1, key=KEY("temperature"), help="softmax(scores / T)")
        st.radio("Similarity", params.SIMILARITIES, key=KEY("similarity"), horizontal=True)
        c1, c2 = st.columns(2)
        c1.selectbox("Layer", list(range(n_layer)), key=KEY("layer"), disabled=n_layer == 1)
        c2.selectbox("Head", list(range(n_head)), key=KEY("head"), disabled=n_head == 1)
        st.toggle("Presentation mode", key=KEY("present"), help="bigger fonts and figures; controls collapsed")
        st.session_state[_SHARE] = st.container()


def _clamp(name, n):  # a layer/head beyond this model's n_layer/n_head moves to the last one, with a notice
    k = KEY(name)
    if st.session_state.get(k, 0) >= n and not st.session_state.get(_DONE):  # from the link: default, and say so
        default = getattr(params.DEFAULTS, name)
        add_notice(
            f"`{name}` = {st.session_state[k]} in the link is out of range (this model has {name}s 0 to {n - 1}); "
            f"using the default {default}."
        )
        st.session_state[k] = default
    elif st.session_state.get(k, 0) >= n:
        st.session_state[k] = n - 1
    elif st.session_state.get(k, 0) < 0:
        st.session_state[k] = 0


def _settings(**overrides):  # the widgets' values -> Settings
    values = {name: _value(name) for name in params.KEYS}
    values.update(overrides)
    values["text"] = str(values["text"])
    values["temperature"] = round(float(values["temperature"]), 4)
    values["alpha"] = round(float(values["alpha"]), 4)
    return Settings(**values)


def claim(key, value, default):  # a page registers its own URL parameter for this run
    """Keep `key` in the link (only when it differs from its default)."""
    if value != default:
        st.session_state.setdefault(_CLAIMED, {})[key] = params.encode(value)


def seed_once(key):  # -> the link's raw value for a page's own key on the session's first run; else None
    """A page's own parameter is read from the link only on the run that opened the link."""
    seeded = st.session_state.setdefault(_SEEDED, set())
    if key in seeded or st.session_state.get(_DONE):
        return None
    seeded.add(key)
    return st.session_state.get(_FIRST, ({}, None))[0].get(key)


def add_notice(text):  # a page's own URL parameter fell back to its default
    st.session_state.setdefault(NOTICES, []).append(text)


def query(settings=None):  # -> {key: str}: the query string of the current view
    q = params.to_query(settings or current())
    q.update(st.session_state.get(_CLAIMED, {}))
    return q


def share_link(settings=None):  # -> str: the link to this exact view
    base = st.context.url or ""
    q = urlencode(query(settings))
    return f"{base}?{q}" if q else (base or "?")


def sync_url():
    """Write the current view into the URL (only when it differs: each write is a message to the browser)."""
    q = query()
    if {k: st.query_params.get_all(k) for k in st.query_params} != {k: [v] for k, v in q.items()}:
        st.query_params.from_dict(q)


def finish():
    """After the page ran: write the view into the URL, report unknown link keys, show the share link."""
    sync_url()
    first = st.session_state.get(_FIRST)
    if first and not st.session_state.get(_DONE):
        st.session_state[_DONE] = True
        known = set(params.KEYS) | st.session_state.get(_SEEDED, set())
        notice = params.unknown_notice(set(first[0]) - known)
        if notice:
            add_notice(notice)
            from ui.page import md_escape  # here, not at the top: ui.page imports this module

            st.toast(md_escape(notice))  # a toast is markdown: a link's key must not become an image or a link
    slot = st.session_state.get(_SHARE)
    if slot is not None:
        box = slot.expander("Share this view", key="share_open", on_change="rerun")
        if box.open:  # only once opened: st.code brings 1.5 MB of JavaScript that the first chart need not wait for
            with box:
                st.caption("This link reopens exactly what you see now:")
                st.code(share_link(), language=None, wrap_lines=True)

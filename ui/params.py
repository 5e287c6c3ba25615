"""The URL query string <-> Settings. Pure: no Streamlit, so every hostile link can be tested here.

`parse(raw)` turns the raw query values (str, or list[str] for a repeated key) into Settings plus a list of
notices; every value that is missing a rule, wrong in type, out of range, repeated, empty, huge or path-like
falls back to its default and says so. Model names come only from the allowlist; nothing from the URL is
ever used as a path, a URL or HTML. `to_query(settings)` writes back only what differs from the defaults.
"""

import math
import re
from dataclasses import fields, replace

import numpy as np

from ui.settings import Settings

MAX_TEXT = 4000  # characters of sentence (~850 English tokens, past every cap); longer links fall back to the default
MAX_VALUE = 64  # characters for every other parameter (no legal value is longer)
TEMPERATURE = (0.1, 5.0)
ALPHA = (0.0, 1.0)
STEPS = (1, 8)  # the lecture model's MAX_STEPS
MAX_LAYER = 48  # generous upper bounds; the sidebar clamps to the chosen model's real n_layer / n_head
MAX_HEAD = 64
SIMILARITIES = ("dot", "cosine")
TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
DEFAULTS = Settings()


def model_choices():  # -> list[str]: the allowlist, available models first when the registry says which
    from attention import registry

    names = getattr(registry, "available_models", registry.model_names)()
    return list(names) or [registry.LECTURE]


def preset_choices():  # -> list[str]
    try:
        from attention.presets import PRESETS

        return list(PRESETS)
    except ImportError:  # the lecture model is not installed yet
        return ["identity", "random", "designed"]


def n_head_choices():  # -> list[int]: head counts that divide the lecture model's d_model
    try:
        from attention.lecture import D_MODEL
    except ImportError:
        D_MODEL = 8
    return [h for h in range(1, 9) if D_MODEL % h == 0]


def shown(value):  # str -> str: a short, quoted form of a user's value for a notice (never the whole thing)
    text = str(value)
    return repr(text if len(text) <= 40 else text[:37] + "...")


def single(key, value):  # str | list[str] -> (str | None, notice | None)
    """One raw value: a repeated key, an empty value or a huge value is refused with a notice."""
    if isinstance(value, (list, tuple)):
        if len(value) != 1:
            return None, f"`{key}` appears {len(value)} times in the link; using the default."
        value = value[0]
    value = str(value)
    limit = MAX_TEXT if key == "text" else MAX_VALUE
    if not value.strip():
        return None, f"`{key}` is empty in the link; using the default."
    if len(value) > limit:
        return None, f"`{key}` is too long in the link ({len(value)} characters, at most {limit}); using the default."
    return value, None


def parse_text(value):  # -> str; raises ValueError
    if any(ord(c) < 32 and c not in "\n\t" for c in value) or "\x7f" in value:
        raise ValueError("contains control characters")
    return value


def parse_int(lo, hi):
    def parse(value):  # -> int; raises ValueError
        v = int(value.strip())  # "3.0", "1e3", "0x10" are refused: a link holds what the sidebar wrote
        if not lo <= v <= hi:
            raise ValueError(f"must be between {lo} and {hi}")
        return v

    return parse


def parse_float(lo, hi):
    def parse(value):  # -> float; raises ValueError
        v = float(value.strip())
        if not math.isfinite(v) or not lo <= v <= hi:
            raise ValueError(f"must be a number from {lo} to {hi}")
        return v

    return parse


def parse_bool(value):  # -> bool; raises ValueError
    v = value.strip().lower()
    if v in TRUE:
        return True
    if v in FALSE:
        return False
    raise ValueError("must be true or false")


def parse_choice(choices):
    def parse(value):  # -> one of choices; raises ValueError
        for c in choices():
            if value.strip() == str(c):
                return c
        raise ValueError(f"must be one of {', '.join(map(str, choices()))}")

    return parse


PARSERS = {  # every Settings field, and how its URL value is read
    "text": parse_text,
    "model": parse_choice(model_choices),
    "layer": parse_int(0, MAX_LAYER - 1),
    "head": parse_int(0, MAX_HEAD - 1),
    "n_head": parse_choice(n_head_choices),
    "preset": parse_choice(preset_choices),
    "temperature": parse_float(*TEMPERATURE),
    "causal": parse_bool,
    "similarity": parse_choice(lambda: SIMILARITIES),
    "alpha": parse_float(*ALPHA),
    "steps": parse_int(*STEPS),
    "hide_special": parse_bool,
    "present": parse_bool,
}
KEYS = tuple(f.name for f in fields(Settings))
assert set(PARSERS) == set(KEYS), "every Settings field needs a URL parser"


def parse_value(key, raw, parser, default):  # -> (value, notice | None)
    """One URL value through its parser; anything wrong gives the default and a notice saying why."""
    value, notice = single(key, raw)
    if value is None:
        return default, notice
    try:
        return parser(value), None
    except (ValueError, TypeError, OverflowError) as err:
        reason = str(err) if "must" in str(err) or "contains" in str(err) else "is not valid"
        return default, f"`{key}` = {shown(value)} in the link {reason}; using the default {shown(default)}."


def parse(raw, defaults=DEFAULTS):  # {key: str | list[str]} -> (Settings, list[str])
    """The Settings a link describes, and a notice for each parameter that fell back to its default."""
    values, notices = {}, []
    for key, value in raw.items():
        if key not in PARSERS:
            continue  # page-specific or unknown keys: the page that owns them (or ui.sidebar) decides
        values[key], notice = parse_value(key, value, PARSERS[key], getattr(defaults, key))
        if notice:
            notices.append(notice)
    return replace(defaults, **values), notices


def parse_choice_param(key, raw, options, default):  # -> (option, notice | None); for page-specific params
    """A page's own URL parameter that must be one of `options` (compared as strings)."""
    return parse_value(key, raw, parse_choice(lambda: options), default)


def unknown_notice(keys):  # iterable of str -> str | None
    names = sorted(shown(k) for k in keys)
    if not names:
        return None
    return f"The link has parameters this page doesn't know ({', '.join(names[:5])}); they were ignored."


def encode(value):  # -> str: the URL form of one setting
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)  # the shortest text that reads back as exactly this float
    return str(value)


def to_query(settings, defaults=DEFAULTS):  # Settings -> {key: str}, only what differs from the defaults
    """The query string for a view: a short link that `parse` turns back into the same Settings."""
    return {k: encode(getattr(settings, k)) for k in KEYS if getattr(settings, k) != getattr(defaults, k)}


# Edited lecture weights on /steps travel in the link as `edits`: "q.3.5=1.5;k.0.0=-2" means W_q[3, 5] = 1.5 and
# W_k[0, 0] = -2 (row = input dimension, column = output dimension), on top of the link's preset and n_head.
MAX_EDITS_CHARS = 1200  # about 80 edited cells: enough for a lecture's experiment, bounded for a URL
EDIT_CELL = re.compile(r"([qkvo])\.(\d{1,3})\.(\d{1,3})=(-?\d{1,3}(?:\.\d{1,6})?)")
MAX_EDIT = 100.0  # the /steps editor refuses larger entries too


def encode_edits(base, edited):  # ({name: [d_model, d_model]}, same) -> str ("" when nothing differs)
    """The cells where `edited` differs from `base`, in the link's compact form (6 decimals at most)."""
    cells = []
    for name in ("w_q", "w_k", "w_v", "w_o"):
        for r, c in np.argwhere(np.asarray(edited[name]) != np.asarray(base[name])):
            value = f"{float(edited[name][r, c]):.6f}".rstrip("0").rstrip(".")
            cells.append(f"{name[-1]}.{r}.{c}={value}")
    return ";".join(cells)


def parse_edits(raw, d_model):  # (str, int) -> ([(name, row, col, value)], notice or None)
    """Validate a link's `edits`: every cell must be in range and every value finite and within ±100;
    anything else drops all edits (the preset stands) with a notice."""
    fallback = "`edits` in the link is not a list of weight cells like q.3.5=1.5; showing the preset's weights."
    if isinstance(raw, list | tuple) and len(raw) == 1:  # the link's values arrive as lists; one key, one value
        raw = raw[0]
    if isinstance(raw, list | tuple) or not isinstance(raw, str) or not raw or len(raw) > MAX_EDITS_CHARS:
        return [], fallback
    cells = []
    for part in raw.split(";"):
        m = EDIT_CELL.fullmatch(part)
        if not m:
            return [], fallback
        r, c, value = int(m[2]), int(m[3]), float(m[4])
        if r >= d_model or c >= d_model or abs(value) > MAX_EDIT:
            return [], fallback
        cells.append((f"w_{m[1]}", r, c, value))
    return cells, None

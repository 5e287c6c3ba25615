"""What the pull figure labels, most important first: the followed word's note, both senses' region names, the
words that pulled it, then the other tokens; and the points no label may cover. Placed by labels.place."""

import numpy as np

from .common import escape
from .labels import Label

TOKEN = "#4c78a8"
SELECTED = "#e45756"
TOKEN_DARK = "#1f3f73"
MEANING = "rgba(95,95,95,0.8)"  # the meaning regions' names: large and faint, behind the sentence
MAX_PATH_TRACES = 64  # above this n_seq all paths share one trace and only the selected token keeps its arrowhead:
# a trace and an annotation per token cost ~6 s of figure building at 512 tokens


def _at(point):  # [k] -> dict(x=, y=[, z=]): a label's anchor
    return dict(zip("xyz", (float(v) for v in point), strict=False))


def font_px(present):  # -> the token labels' font size: the theme's (13 px, 20 px on a projector)
    return 20 if present else 13


def cluster_labels(points, groups, names, senses, present):  # -> [Label]: one per cluster, the senses' ones first
    """Each meaning's name in large faint italics at its words' centre; the senses of the sentence's ambiguous words
    are never left to hover (both must be named)."""
    if not groups:
        return []
    points, size = np.asarray(points, dtype=np.float64), 26 if present else 17
    axes = sorted(dict.fromkeys(groups), key=lambda a: a not in senses)
    out = []
    for axis in axes:
        at = _at(points[[g == axis for g in groups]].mean(axis=0))
        text = f"<i>{names.get(axis, escape(axis))}</i>"
        out.append(Label(text, **at, size=size, colour=MEANING, must=axis in senses, centred=True))
    return out


def token_label_list(labels, paths, colour, highlight=None, hi_colour=SELECTED, note=None, keep=None,
                     pulled=(), start_label=True, present=False):  # fmt: skip  # -> [Label], most important first
    """The followed word's note (or bold name) and start, the words that pulled it most (bold), then the other kept
    tokens (default: all, or past MAX_PATH_TRACES none), the farthest movers first."""
    n_seq, base, end = paths.shape[1], font_px(present), paths[-1]
    out = []
    if highlight is not None:
        if note:
            out.append(Label(note, **_at(end[highlight]), size=base + (2 if present else 0), colour=hi_colour, must=True,
                             bg="rgba(255,255,255,0.92)", border=hi_colour))  # fmt: skip
        else:
            out.append(
                Label(f"<b>{labels[highlight]}</b>", **_at(end[highlight]), size=base + 4, colour=hi_colour, must=True)
            )
    if keep is None:
        keep = set(range(n_seq)) if n_seq <= MAX_PATH_TRACES else set()
    moved = np.linalg.norm(np.diff(paths, axis=0), axis=-1).sum(axis=0)  # [n_seq]
    rest = [i for i in np.argsort(-moved, kind="stable") if i in keep and i != highlight and i not in pulled]
    tail = []
    if highlight is not None and start_label:
        tail.append(
            Label(f"{labels[highlight]} <i>before</i>", **_at(paths[0, highlight]), size=base, colour="#888888")
        )
    dark = TOKEN_DARK if colour == TOKEN else colour
    tail += [Label(f"<b>{labels[i]}</b>", **_at(end[i]), size=base + 1, colour=dark) for i in pulled]
    return out, tail + [Label(labels[i], **_at(end[i]), size=base, colour=colour) for i in rest]


def pulled_by(tokens, selected, context):  # n_seq, index, [(word, weight)] -> the context words' positions
    used, out = {selected}, []
    for w, _ in context or ():
        j = next((j for j, t in enumerate(tokens) if t == w and j not in used), None)
        if j is not None:
            used.add(j)
            out.append(j)
    return out


def obstacles_of(paths, highlight, present):  # -> [(x, y, radius px)] no label may cover
    """Every token's before and after point (a label beside its dot, not on another's), and the followed word's
    points and arrow with room to spare."""
    if paths.shape[2] != 2 or paths.shape[1] > MAX_PATH_TRACES:
        return []
    dot = 6 if present else 4
    out = [(float(x), float(y), dot) for x, y in np.concatenate([paths[0], paths[-1]])]
    if highlight is None:
        return out
    (x0, y0), (x1, y1) = paths[0, highlight], paths[-1, highlight]
    r = 13 if present else 10
    return out + [(x0, y0, r), (x1, y1, r)] + [(x0 + t * (x1 - x0), y0 + t * (y1 - y0), 5) for t in (0.25, 0.5, 0.75)]

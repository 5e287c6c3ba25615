"""The context-pull view: tokens before and after attention in one PCA, with arrows between.

Points come in already projected (attention.pull fits the PCA): `paths` is [n_points, n_seq, k] with
k = 2 or 3; paths[0] is before attention, paths[-1] after, anything between is an intermediate step or
layer. Reference vocabulary words sit in the background so the clusters (fruit, tech, ...) show.
"""

import numpy as np
import pandas as pd

from . import meanings
from .common import escape, fast_figure, theme, token_labels
from .labels import annotations, box, fit_scale, place
from .meanings import lecture_reference  # noqa: F401  (re-exported: pages and tests import it from here)
from .pull_labels import (  # noqa: F401  (MEANING, TOKEN, ... are re-exported: the colours and limits of the pull)
    MAX_PATH_TRACES,
    MEANING,
    SELECTED,
    TOKEN,
    TOKEN_DARK,
    cluster_labels,
    font_px,
    obstacles_of,
    pulled_by,
    token_label_list,
)

SECOND = "#f58518"  # the second sentence on the compare page
SECOND_DARK = "#b34d00"
FAINT = "#b0b0b0"
COMPARE_LABELS = 3  # per sentence on the compare chart: the shared word and this many top movers are labelled
LABEL_APART = 0.08  # ...each at least this fraction of the plot's span from every other label (no pile-ups)
NOTE_SHARE = 0.6  # a note wider than this share of the plot breaks onto two lines
SHOWN_WEIGHT = 0.005  # context words below this weight (0.00 when rounded) are not named as pulling
REGION_PAD = 0.08  # a meaning region reaches this fraction of the reference words' span past its outermost words


def before_after(run, layer=0):  # Run -> ([n_seq, d_model] before, [n_seq, d_model] after)
    """What attention moved: lecture model, the embeddings and the last pull step; a real model, one layer's
    input and that input plus the layer's attention output (the residual stream, before LayerNorm)."""
    if run.model == "lecture":
        return run.hidden[0], run.hidden[-1]
    layer = min(max(int(layer), 0), run.n_layer - 1)
    return run.hidden[layer], run.hidden[layer] + run.attn_out[layer]


def axis_titles(evr):  # [k] explained variance ratio -> ["PC1 (41% of variance)", ...]
    """Axis names that say how much of the spread each principal component shows."""
    return [f"PC{i + 1} ({100 * float(r):.0f}% of variance)" for i, r in enumerate(evr)]


def context_text(context):  # [(word, weight), ...] -> "banana 0.31 · ate 0.22"
    """The selected token's top context words and their weights, as one escaped line."""
    return " · ".join(f"{escape(w)} {float(v):.2f}" for w, v in context)


def _xyz(points):  # [n, k] -> dict(x=..., y=..., [z=...])
    return {axis: points[:, i] for i, axis in enumerate("xyz"[: points.shape[1]])}


def _scatter(points, **kwargs):  # [n, k] -> a scatter (or scatter3d) trace, as a dict for common.fast_figure
    return dict(type="scatter3d" if points.shape[1] == 3 else "scatter", **_xyz(points), **kwargs)


def reference_traces(points, words, groups=None, names=None):  # [n_ref, k], n_ref words -> faint background
    """Reference vocabulary as faint points (hover names the word and its meaning). With groups (the axis each word
    stands for) and 2-D points, each cluster is also a translucent region, so meanings read as places on a map."""
    points = np.asarray(points, dtype=np.float32)
    hover = [escape(w) if groups is None else f"{escape(w)} ({escape(g)})" for w, g in zip(words, groups or words, strict=True)]  # fmt: skip
    dots = _scatter(points, mode="markers", name="reference words", hovertext=hover, hoverinfo="text",
                    marker=dict(color=FAINT, size=6, opacity=0.6))  # fmt: skip
    if not groups or points.shape[1] != 2:
        return [dots]
    pad = REGION_PAD * float(np.max(np.ptp(points, axis=0))) or 0.1
    return [*meanings.region_traces(points, groups, names or {}, pad), dots]


def one_by_one(n_seq, highlight):  # -> the token indices drawn as their own trace and arrowhead
    if n_seq <= MAX_PATH_TRACES:
        return range(n_seq)
    return [] if highlight is None else [highlight]


def top_movers(paths, k, apart=0.0, taken=None):  # [n_points, n_seq, d] -> up to k token indices, longest path first
    """The tokens that move most, skipping any that ends within `apart` of one already picked (or of a point in
    `taken`, a list that is extended with each pick), so their labels do not pile up."""
    paths = np.asarray(paths, dtype=np.float32)
    steps = np.linalg.norm(np.diff(paths, axis=0), axis=-1).sum(axis=0)  # [n_seq]
    taken = [] if taken is None else taken
    picked = []
    for i in np.argsort(-steps, kind="stable"):
        if len(picked) == k:
            break
        if all(np.linalg.norm(paths[-1, i] - p) >= apart for p in taken):
            picked.append(int(i))
            taken.append(paths[-1, i])
    return picked


def path_traces(
    labels, paths, colour, name, highlight=None, hi_colour=SELECTED, present=False
):  # n_seq, [n_points, n_seq, k]
    """One sentence: each token's path (a line), hollow 'before' points, filled 'after' points, and the highlighted
    token's two points drawn again on top, bigger, in hi_colour. Hovering names every point; labels are placed
    apart by the figure (token_label_list)."""
    n_points, n_seq, k = paths.shape
    traces = []
    if n_seq > MAX_PATH_TRACES:  # one trace, the paths separated by NaN gaps; the highlighted path drawn below
        others = [i for i in range(n_seq) if i != highlight]
        gaps = np.full((1, len(others), k), np.nan, dtype=np.float32)
        joined = np.concatenate([paths[:, others], gaps]).transpose(1, 0, 2).reshape(-1, k)  # [n * (n_points+1), k]
        line = dict(color=colour, width=1.5)
        traces.append(_scatter(joined, mode="lines", line=line, opacity=0.5, hoverinfo="skip", showlegend=False))
    for i in one_by_one(n_seq, highlight):
        is_hi = i == highlight
        traces.append(
            _scatter(paths[:, i], mode="lines", line=dict(color=hi_colour if is_hi else colour, width=(6 if present else 4) if is_hi else 1.5),
                     opacity=1.0 if is_hi else 0.5, hoverinfo="skip", showlegend=False)
        )  # fmt: skip
    size = (13 if present else 10) if k == 2 else 5
    common = dict(mode="markers", hovertext=labels, customdata=np.arange(n_seq))  # customdata: the position
    traces.append(_scatter(paths[0], **common, name=f"{name}: before", hovertemplate="%{hovertext} before<extra></extra>",
                           marker=dict(size=size, color="white", line=dict(color=colour, width=2))))  # fmt: skip
    traces.append(_scatter(paths[-1], **common, name=f"{name}: after", hovertemplate="%{hovertext} after<extra></extra>",
                           marker=dict(size=size, color=colour)))  # fmt: skip
    if highlight is not None:
        ring = dict(size=size + 6, color="white", line=dict(color=hi_colour, width=3))
        for end, what, marker in ((0, "before", ring), (-1, "after", dict(size=size + 7, color=hi_colour, line=dict(color="white", width=1.5)))):  # fmt: skip
            traces.append(_scatter(paths[end, [highlight]], mode="markers", name=f"{name}: {labels[highlight]} {what}",
                                   showlegend=False, customdata=[highlight], marker=marker,
                                   hovertemplate=f"{labels[highlight]} {what}<extra></extra>"))  # fmt: skip
    return traces


def arrow_annotations(paths, colour, highlight=None, hi_colour=SELECTED, present=False):  # [n_points, n_seq, 2]
    """Arrowheads on each token's last segment (layout annotations without text); the highlighted one thicker."""
    out = []
    for i in one_by_one(paths.shape[1], highlight):
        (x0, y0), (x1, y1) = paths[-2, i], paths[-1, i]
        is_hi = i == highlight
        out.append(
            dict(
                x=float(x1), y=float(y1), ax=float(x0), ay=float(y0), xref="x", yref="y", axref="x", ayref="y",
                showarrow=True, arrowhead=2, arrowsize=1.2 if is_hi else 1.0,
                arrowwidth=(4 if present else 3) if is_hi else 1.5,
                arrowcolor=hi_colour if is_hi else colour, text="", opacity=1.0 if is_hi else 0.6,
            )
        )  # fmt: skip
    return out


def scene_note(point, note, colour=SELECTED):  # [3] -> scene annotation dict (3-D cannot draw 2-D arrows)
    x, y, z = (float(v) for v in point)
    return dict(x=x, y=y, z=z, text=note, showarrow=True, arrowcolor=colour, font=dict(color=colour))


def pull_figure(
    tokens, paths, evr, reference=None, reference_words=None, reference_groups=None,
    selected=None, context=None, present=False, title=None, min_width=900,
):  # fmt: skip
    """Every token before (hollow) and after (filled) attention, arrows between, the selected one annotated with
    the words that pulled it. min_width: the narrowest the plot area is drawn (px), for the label placement."""
    paths = np.asarray(paths, dtype=np.float32)
    if paths.ndim != 3 or paths.shape[0] < 2 or paths.shape[1] != len(tokens) or paths.shape[2] not in (2, 3):
        raise ValueError(f"paths must be [n_points >= 2, n_seq = {len(tokens)}, 2 or 3] (got {paths.shape})")
    labels = token_labels(tokens)
    context = [(w, v) for w, v in context or () if v >= SHOWN_WEIGHT]
    note = f"<b>{labels[selected]}</b> ← " + context_text(context) if selected is not None and context else None
    if note and box(note, font_px(present))[0] > NOTE_SHARE * min_width:  # a narrow chart: the weights on a 2nd line
        note = note.replace(" ← ", " ← pulled by<br>", 1)
    senses = {a for _, a in meanings.sense_axes(tokens)}
    names = {a: meanings.region_name(a, tokens) for a in set(reference_groups or ())}
    data = []
    if reference is not None and len(reference):
        data += reference_traces(reference, reference_words, reference_groups, names)
    data += path_traces(labels, paths, TOKEN, "tokens", selected, present=present)
    pulled = pulled_by(tokens, selected, context) if selected is not None else []
    first, rest = token_label_list(labels, paths, TOKEN, selected, SELECTED, note, pulled=pulled, present=present)
    clusters = cluster_labels(reference, reference_groups, names, senses, present) if reference is not None else []
    ordered = first + [c for c in clusters if c.must] + rest[: 1 + len(pulled)] + [c for c in clusters if not c.must]
    ordered += rest[1 + len(pulled) :]
    arrows = [(paths, TOKEN, selected, SELECTED)]
    return _finish(data, paths, evr, arrows, ordered, obstacles_of(paths, selected, present), title, present, min_width)


def compare_pull_figure(
    tokens_a, paths_a, tokens_b, paths_b, evr, word_a=None, word_b=None, notes=(None, None),
    reference=None, reference_words=None, reference_groups=None, present=False, title=None, min_width=900,
):  # fmt: skip
    """Two sentences' pulls in ONE projection, so the same word's two arrows are comparable. Only the shared word
    and each sentence's top movers are labelled (hover names the rest)."""
    paths_a, paths_b = np.asarray(paths_a, dtype=np.float32), np.asarray(paths_b, dtype=np.float32)
    both = [*tokens_a, *tokens_b]
    senses = {a for _, a in meanings.sense_axes(both)}
    names = {a: meanings.region_name(a, both) for a in set(reference_groups or ())}
    data = []
    if reference is not None and len(reference):
        data += reference_traces(reference, reference_words, reference_groups, names)
    ends = np.concatenate([paths_a[-1], paths_b[-1]])  # [n_a + n_b, k]: where the labels go
    apart = LABEL_APART * float(np.max(np.ptp(ends, axis=0))) if len(ends) else 0.0
    taken = [p[-1, w] for p, w in ((paths_a, word_a), (paths_b, word_b)) if w is not None]  # the shared word first
    arrows, firsts, rests, obstacles = [], [], [], []
    for name, tokens, paths, colour, hi_colour, word, note in (
        ("A", tokens_a, paths_a, TOKEN, TOKEN_DARK, word_a, notes[0]),
        ("B", tokens_b, paths_b, SECOND, SECOND_DARK, word_b, notes[1]),
    ):
        labels = [f"{t} ·{name}" for t in token_labels(tokens)]
        keep = set(top_movers(paths, COMPARE_LABELS, apart, taken))
        data += path_traces(labels, paths, colour, name, word, hi_colour, present)
        # both sentences' shared word starts at the same point: its start is labelled once, in A
        first, rest = token_label_list(labels, paths, colour, word, hi_colour, note, keep, start_label=name == "A", present=present)  # fmt: skip
        firsts, rests = firsts + first, rests + rest
        arrows.append((paths, colour, word, hi_colour))
        obstacles += obstacles_of(paths, word, present)
    clusters = cluster_labels(reference, reference_groups, names, senses, present) if reference is not None else []
    ordered = firsts + [c for c in clusters if c.must] + rests + [c for c in clusters if not c.must]
    return _finish(data, paths_a, evr, arrows, ordered, obstacles, title, present, min_width)


def padded_range(values, pad=0.05):  # [n] -> [lo, hi]: the values' extent plus `pad` of its span on each side
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    lo, hi = (float(v.min()), float(v.max())) if v.size else (0.0, 1.0)
    margin = pad * (hi - lo) or 1.0
    return [lo - margin, hi + margin]


def _finish(data, paths, evr, arrows, labels, obstacles, title, present, min_width):  # traces -> go.Figure
    """Equal axes, arrowheads, and every label placed apart (labels.place); what found no room is left to hover and
    the title says how many. Built from dicts (common.fast_figure): plotly's checked updates cost ~50 ms."""
    titles = axis_titles(evr)
    layout = dict(showlegend=False, hovermode="closest")  # the title says hollow = before, filled = after
    if title:
        layout["title"] = dict(text=title)
    if paths.shape[2] == 3:
        notes = [scene_note((lab.x, lab.y, lab.z), lab.text, lab.colour) for lab in labels if lab.bg]
        plain = [lab for lab in labels if lab.bg is None]
        if plain:
            where = np.array([[lab.x, lab.y, lab.z] for lab in plain])
            data.append(_scatter(where, mode="text", text=[lab.text for lab in plain], hoverinfo="skip",
                                 textfont=dict(color=[lab.colour for lab in plain]), showlegend=False))  # fmt: skip
        layout["scene"] = {f"{a}axis": dict(title=dict(text=t)) for a, t in zip("xyz", titles, strict=False)}
        if notes:
            layout["scene"]["annotations"] = notes
        return theme(fast_figure(data, layout), present, height=620)
    xs, ys = ([np.asarray(t[a], dtype=np.float64).ravel() for t in data] for a in "xy")
    x_range, y_range = padded_range(np.concatenate(xs)), padded_range(np.concatenate(ys))
    layout.update(xaxis=dict(range=x_range, title=dict(text=titles[0]), zeroline=False),
                  yaxis=dict(title=dict(text=titles[1]), zeroline=False, scaleanchor="x", scaleratio=1))  # fmt: skip
    fig = theme(fast_figure(data, layout), present, height=560)
    top = fig.layout.margin.t + (28 if present else 20)  # room for the title's second line
    plot_h = fig.layout.height - top - fig.layout.margin.b
    y_range, scale = fit_scale(x_range, y_range, plot_h, min_width)
    centre = (sum(x_range) / 2, sum(y_range) / 2)
    placed, dropped = place(labels, centre, scale, (min_width, plot_h), obstacles)
    notes = [a for arrow in arrows for a in arrow_annotations(*arrow, present=present)] + annotations(placed)
    sub = f"{len(dropped)} label(s) left to hover, to keep the rest apart: point at a dot to read it" if dropped else ""
    text = (title or "") + (f"<br><sup>{sub}</sup>" if sub else "")
    fig.update_layout(yaxis_range=y_range, annotations=notes, margin_t=top, title_text=text or None)
    return fig


def clicked_token(selection):  # a plotly chart's selection state -> token position, or None
    """The token under a clicked point: the path traces carry each token's position as customdata."""
    points = (selection or {}).get("selection", {}).get("points", [])
    for point in points:
        data = point.get("customdata")
        data = data[0] if isinstance(data, list) and data else data
        if isinstance(data, (int, float)) and not isinstance(data, bool):
            return int(data)
    return None


def pull_table(tokens, paths, step_name="step"):  # n_seq, [n_points, n_seq, k] -> DataFrame
    """The projected coordinates behind a pull figure: one row per token and point on its path."""
    n_points, n_seq, k = np.shape(paths)
    rows = []
    for s in range(n_points):
        for i, label in enumerate(tokens):
            row = {"token": label, "position": i, step_name: s}
            row.update({f"PC{j + 1}": float(paths[s][i][j]) for j in range(k)})
            rows.append(row)
    return pd.DataFrame(rows)

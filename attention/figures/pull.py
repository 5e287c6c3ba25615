"""The context-pull view: tokens before and after attention in one PCA, with arrows between.

Points come in already projected (attention.pull fits the PCA): `paths` is [n_points, n_seq, k] with
k = 2 or 3; paths[0] is before attention, paths[-1] after, anything between is an intermediate step or
layer. Reference vocabulary words sit in the background so the clusters (fruit, tech, ...) show.
"""

import numpy as np
import pandas as pd

from .common import escape, fast_figure, theme, token_labels

TOKEN = "#4c78a8"
SELECTED = "#e45756"
TOKEN_DARK = "#1f3f73"
SECOND = "#f58518"  # the second sentence on the compare page
SECOND_DARK = "#b34d00"
FAINT = "#b0b0b0"
COMPARE_LABELS = 3  # per sentence on the compare chart: the shared word and this many top movers are labelled
LABEL_APART = 0.08  # ...each at least this fraction of the plot's span from every other label (no pile-ups)
ANCHOR = {"right": "left", "left": "right", "below": "center"}  # a note's side of its point -> its xanchor
MAX_PATH_TRACES = 64  # above this n_seq all paths share one trace and only the selected token keeps its arrowhead:
# a trace and an annotation per token cost ~6 s of figure building at 512 tokens


def before_after(run, layer=0):  # Run -> ([n_seq, d_model] before, [n_seq, d_model] after)
    """What attention moved: lecture model, the embeddings and the last pull step; a real model, one layer's
    input and that input plus the layer's attention output (the residual stream, before LayerNorm)."""
    if run.model == "lecture":
        return run.hidden[0], run.hidden[-1]
    layer = min(max(int(layer), 0), run.n_layer - 1)
    return run.hidden[layer], run.hidden[layer] + run.attn_out[layer]


def lecture_reference(
    tokens, embeddings, per_axis=5, top=2
):  # n_seq, [n_seq, d_model] -> ([n_ref, n_axes], words, groups)
    """Reference words for the lecture model's PCA background: a few per meaning axis, only for the axes this
    sentence is about (its `top` heaviest, plus both senses of every ambiguous word in it), so the
    background shows the sentence's own topics instead of a crowd of sixteen clusters."""
    from attention import lecture

    n_axes = len(lecture.AXES)
    senses = [s for t in tokens if t in lecture.AMBIGUOUS for s in lecture.AMBIGUOUS[t]]
    axes = set(lecture.sentence_axes(embeddings, top=top))
    axes |= {lecture.AXES[int(np.argmax(lecture.sense_direction(s)[:n_axes]))] for s in senses}
    words = lecture.reference_words(per_axis=per_axis, axes=sorted(axes))
    vectors = np.stack([lecture.word_vector(w)[:n_axes] for w in words]) if words else np.zeros((0, n_axes))
    groups = [lecture.AXES[int(np.argmax(v))] for v in vectors]  # the axis each word stands for
    return vectors.astype(np.float32), list(words), groups


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


def reference_traces(points, words, groups=None):  # [n_ref, k], n_ref words -> faint labelled background
    """Reference vocabulary as faint points (hover names the word). With groups (the axis each word stands
    for), each cluster is labelled once at its centre ("food", "technology"), so the labels never pile up."""
    points = np.asarray(points, dtype=np.float32)
    hover = [escape(w) if groups is None else f"{escape(w)} ({escape(g)})" for w, g in zip(words, groups or words, strict=True)]  # fmt: skip
    dots = _scatter(
        points,
        mode="markers" if groups else "markers+text",
        name="reference words",
        text=hover if groups else [escape(w) for w in words],
        hovertext=hover,
        hoverinfo="text",
        textposition="top center",
        textfont=dict(color=FAINT),
        marker=dict(color=FAINT, size=6, opacity=0.6),
    )
    if not groups:
        return [dots]
    names = list(dict.fromkeys(groups))
    centres = np.stack([points[[g == n for g in groups]].mean(axis=0) for n in names])
    labels = _scatter(
        centres,
        mode="text",
        name="meanings",
        text=[f"<i>{escape(n)}</i>" for n in names],
        hoverinfo="skip",
        textposition="bottom center",  # below the centre: the tokens' own labels sit above their points
        textfont=dict(color="#888888", size=15),
        showlegend=False,
    )
    return [dots, labels]


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


def shown(labels, keep):  # n_seq labels, indices | None -> n_seq texts: the label where kept, else ""
    return list(labels) if keep is None else [t if i in keep else "" for i, t in enumerate(labels)]


def path_traces(
    labels, paths, colour, name, highlight=None, hi_colour=SELECTED, labelled=None, start_label=True
):  # n_seq, [n_points, n_seq, k]
    """One sentence: each token's path (a line), hollow 'before' points, filled labelled 'after' points, and
    the highlighted token drawn again on top, bigger, in hi_colour. Only `labelled` tokens (default: all, or past
    MAX_PATH_TRACES the highlighted one) carry an 'after' label, and only the highlighted one a 'before' label;
    hovering names every point."""
    n_points, n_seq, k = paths.shape
    if labelled is None and n_seq > MAX_PATH_TRACES:  # hundreds of overlapping labels: unreadable, and slow to draw
        labelled = set() if highlight is None else {highlight}
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
            _scatter(
                paths[:, i],
                mode="lines",
                line=dict(color=hi_colour if is_hi else colour, width=4 if is_hi else 1.5),
                opacity=1.0 if is_hi else 0.5,
                hoverinfo="skip",
                showlegend=False,
            )
        )
    size = 10 if k == 2 else 5
    common = dict(mode="markers+text", hovertext=labels, customdata=np.arange(n_seq))  # customdata: the position
    before = (
        shown(labels, labelled) if highlight is None else shown(labels, {highlight} if start_label else set())
    )  # arrows say the rest
    traces.append(
        _scatter(
            paths[0], **common, text=before, name=f"{name}: before", textposition="bottom center",
            textfont=dict(color=FAINT), hovertemplate="%{hovertext} before<extra></extra>",
            marker=dict(size=size, color="white", line=dict(color=colour, width=2)),
        )
    )  # fmt: skip
    traces.append(
        _scatter(
            paths[-1], **common, text=shown(labels, labelled), name=f"{name}: after", textposition="top center",
            textfont=dict(color=colour), hovertemplate="%{hovertext} after<extra></extra>",
            marker=dict(size=size, color=colour),
        )
    )  # fmt: skip
    if highlight is not None:
        traces.append(
            _scatter(
                paths[-1, [highlight]], mode="markers", name=f"{name}: {labels[highlight]}", showlegend=False,
                customdata=[highlight],
                hovertemplate=f"{labels[highlight]} after<extra></extra>",
                marker=dict(size=size + 5, color=hi_colour, line=dict(color="white", width=1.5)),
            )
        )  # fmt: skip
    return traces


def arrow_annotations(
    paths, colour, highlight=None, note=None, hi_colour=SELECTED, side="right"
):  # [n_points, n_seq, 2]
    """Arrowheads on each token's last segment (list of layout annotations); the highlighted one carries `note`,
    on the `side` ("right", "left" or "below") of its point."""
    out = []
    n_seq = paths.shape[1]
    for i in one_by_one(n_seq, highlight):
        (x0, y0), (x1, y1) = paths[-2, i], paths[-1, i]
        is_hi = i == highlight
        out.append(
            dict(
                x=float(x1), y=float(y1), ax=float(x0), ay=float(y0),
                xref="x", yref="y", axref="x", ayref="y",
                showarrow=True, arrowhead=2, arrowsize=1.2,
                arrowwidth=3 if is_hi else 1.5,
                arrowcolor=hi_colour if is_hi else colour,
                text="", opacity=1.0 if is_hi else 0.6,
            )
        )  # fmt: skip
        if is_hi and note:
            out.append(
                dict(
                    x=float(x1), y=float(y1), xref="x", yref="y", text=note, showarrow=False,
                    xanchor=ANCHOR[side], xshift={"right": 14, "left": -14}.get(side, 0),
                    yshift=-28 if side == "below" else -16, bgcolor="rgba(255,255,255,0.85)",
                    bordercolor=hi_colour, font=dict(color=hi_colour),
                )
            )  # fmt: skip
    return out


def scene_note(point, note, colour=SELECTED):  # [3] -> scene annotation dict (3-D cannot draw 2-D arrows)
    x, y, z = (float(v) for v in point)
    return dict(x=x, y=y, z=z, text=note, showarrow=True, arrowcolor=colour, font=dict(color=colour))


def pull_figure(
    tokens, paths, evr, reference=None, reference_words=None, reference_groups=None,
    selected=None, context=None, present=False, title=None, equal_axes=True,
):  # fmt: skip
    """Every token before (hollow) and after (filled) attention, arrows between; the selected one annotated.
    equal_axes=False lets a narrow chart fill its space (distances are then stretched along one axis)."""
    paths = np.asarray(paths, dtype=np.float32)
    if paths.ndim != 3 or paths.shape[0] < 2 or paths.shape[1] != len(tokens) or paths.shape[2] not in (2, 3):
        raise ValueError(f"paths must be [n_points >= 2, n_seq = {len(tokens)}, 2 or 3] (got {paths.shape})")
    labels = token_labels(tokens)
    note = None
    if selected is not None and context:
        note = f"<b>{labels[selected]}</b> ← " + context_text(context)
    data = []
    if reference is not None and len(reference):
        data += reference_traces(reference, reference_words, reference_groups)
    data += path_traces(labels, paths, TOKEN, "tokens", highlight=selected)
    side = "right"
    if selected is not None:  # a note at either edge opens inward, one in the middle third sits below its point
        xs = np.concatenate(
            [paths[..., 0].ravel(), np.asarray(reference if reference is not None else [])[..., :1].ravel()]
        )
        lo, hi = np.nanmin(xs), np.nanmax(xs)
        where = (paths[-1, selected, 0] - lo) / ((hi - lo) or 1.0)  # 0 = left edge, 1 = right edge
        side = "right" if where < 1 / 3 else "left" if where > 2 / 3 else "below"
    return _finish(data, paths, evr, [(paths, TOKEN, selected, note, SELECTED, side)], title, present, equal_axes)


def compare_pull_figure(
    tokens_a, paths_a, tokens_b, paths_b, evr, word_a=None, word_b=None, notes=(None, None),
    reference=None, reference_words=None, reference_groups=None, present=False, title=None,
):  # fmt: skip
    """Two sentences' pulls in ONE projection, so the same word's two arrows are comparable. Only the shared word
    and each sentence's top movers are labelled (hover names the rest); the two notes sit on opposite sides."""
    paths_a, paths_b = np.asarray(paths_a, dtype=np.float32), np.asarray(paths_b, dtype=np.float32)
    data = []
    if reference is not None and len(reference):
        data += reference_traces(reference, reference_words, reference_groups)
    arrows = []
    a_left = word_a is not None and word_b is not None and paths_a[-1, word_a, 0] < paths_b[-1, word_b, 0]
    sides = ("left", "right") if a_left else ("right", "left")
    ends = np.concatenate([paths_a[-1], paths_b[-1]])  # [n_a + n_b, k]: where the labels go
    apart = LABEL_APART * float(np.max(np.ptp(ends, axis=0))) if len(ends) else 0.0
    taken = [p[-1, w] for p, w in ((paths_a, word_a), (paths_b, word_b)) if w is not None]  # the shared word first
    for name, tokens, paths, colour, hi_colour, word, note, side in (
        ("A", tokens_a, paths_a, TOKEN, TOKEN_DARK, word_a, notes[0], sides[0]),
        ("B", tokens_b, paths_b, SECOND, SECOND_DARK, word_b, notes[1], sides[1]),
    ):
        labels = [f"{t} ·{name}" for t in token_labels(tokens)]
        keep = {*top_movers(paths, COMPARE_LABELS, apart, taken), *([] if word is None else [word])}
        # both sentences' shared word starts at the same point: its start is labelled once, in A
        data += path_traces(labels, paths, colour, name, word, hi_colour, keep, start_label=name == "A")
        arrows.append((paths, colour, word, note, hi_colour, side))
    return _finish(data, paths_a, evr, arrows, title, present)


def padded_range(values, pad=0.12):  # [n] -> [lo, hi]: the values' extent plus `pad` of its span on each side
    """An axis range with room for the text centred on the outermost points (plotly pads for markers, not text)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    lo, hi = (float(v.min()), float(v.max())) if v.size else (0.0, 1.0)
    margin = pad * (hi - lo) or 1.0
    return [lo - margin, hi + margin]


def _finish(data, paths, evr, arrows, title, present, equal_axes=True):  # traces -> go.Figure with arrows, notes, axes
    """Built from dicts (common.fast_figure): plotly's checked updates took ~50 ms a figure on every rerun."""
    titles = axis_titles(evr)
    layout = dict(legend=dict(orientation="h", y=-0.12), hovermode="closest")
    if title:
        layout["title"] = dict(text=title)
    if paths.shape[2] == 2:
        xs, ys = ([np.asarray(t[a], dtype=np.float64).ravel() for t in data] for a in "xy")
        notes = [a for arrow in arrows for a in arrow_annotations(*arrow)]
        layout.update(
            xaxis=dict(range=padded_range(np.concatenate(xs)), title=dict(text=titles[0]), zeroline=False),
            yaxis=dict(range=padded_range(np.concatenate(ys), pad=0.08), title=dict(text=titles[1]), zeroline=False,
                       **(dict(scaleanchor="x", scaleratio=1) if equal_axes else {})),
        )  # fmt: skip
    else:
        notes = [scene_note(a[0][-1, a[2]], a[3], a[4]) for a in arrows if a[2] is not None and a[3]]
        layout["scene"] = {f"{a}axis": dict(title=dict(text=t)) for a, t in zip("xyz", titles, strict=False)}
    if notes:  # 2-D: arrows and the note, on the paper; 3-D: the note in the scene
        (layout if paths.shape[2] == 2 else layout["scene"])["annotations"] = notes
    if present:  # the meaning names keep their lead over the (enlarged) token labels
        for trace in data:
            if trace.get("name") == "meanings":
                trace["textfont"] = {**trace.get("textfont", {}), "size": 22}
    return theme(fast_figure(data, layout), present, height=620 if paths.shape[2] == 3 else 560)


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

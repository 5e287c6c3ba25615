"""The lecture model's meaning map: reference words per axis in one PCA with the sentence, the sense regions drawn
behind it, and the angle between a word's pull arrow and its sense (how the teaching claim is checked in 2-D)."""

import numpy as np

from .common import escape

REGION_FILLS = ("rgba(76,120,168,0.10)", "rgba(245,133,24,0.10)", "rgba(84,162,75,0.10)", "rgba(178,121,162,0.10)",
                "rgba(157,117,93,0.10)", "rgba(114,183,178,0.10)")  # fmt: skip
REGION_LINE = "rgba(120,120,120,0.35)"
REGION_PAD = 0.35  # a region reaches this much of a content word's length past its outermost words


def lecture_reference(
    tokens, embeddings, per_axis=5, top=2
):  # n_seq, [n_seq, d_model] -> ([n_ref, n_axes], words, groups)
    """Reference words for the lecture model's PCA background: a few per meaning axis, only for the axes this
    sentence is about (its `top` heaviest, plus both senses of every ambiguous word in it), so the
    background shows the sentence's own topics instead of a crowd of sixteen clusters."""
    from attention import lecture

    n_axes = len(lecture.AXES)
    axes = set(lecture.sentence_axes(embeddings, top=top)) | {a for _, a in sense_axes(tokens)}
    words = lecture.reference_words(per_axis=per_axis, axes=sorted(axes))
    vectors = np.stack([lecture.word_vector(w)[:n_axes] for w in words]) if words else np.zeros((0, n_axes))
    groups = [lecture.AXES[int(np.argmax(v))] for v in vectors]  # the axis each word stands for
    return vectors.astype(np.float32), list(words), groups


def sense_axes(tokens):  # n_seq tokens -> [(sense, axis)]: every sense of every ambiguous word, and the axes it lies on
    from attention import lecture

    senses = dict.fromkeys(s for t in tokens if str(t).lower() in lecture.AMBIGUOUS for s in lecture.AMBIGUOUS[str(t).lower()])  # fmt: skip
    return [(s, a) for s in senses for a in lecture.SENSES[s]]


def lecture_projection(
    run, k=2, per_axis=5
):  # Run -> (paths [n_layer+1, n_seq, k], ref [n_ref, k], words, groups, evr)
    """One PCA of the meaning axes (position left out), fitted on every pull step together with the reference
    words, so the before and after points and the sense regions share one plane."""
    from attention.lecture import AXES
    from attention.pull import pca_trajectories

    n_axes = len(AXES)
    reference, words, groups = lecture_reference(run.tokens, run.hidden[0], per_axis=per_axis)
    paths, ref_points, evr = pca_trajectories(run.hidden[:, :, :n_axes], reference=reference, n_components=k)
    return paths, ref_points, words, groups, evr


def sense_centre(points, groups, sense):  # [n_ref, k], n_ref axis names, "fruit" -> [k]: its reference words' mean
    from attention.lecture import SENSES

    inside = [g in SENSES[sense] for g in groups]
    if not any(inside):
        raise ValueError(f"no reference word stands for the sense {sense!r}; pass the sentence's reference words")
    return np.asarray(points, dtype=np.float64)[inside].mean(axis=0)


def angle_to(start, end, target):  # [k], [k], [k] -> degrees between end - start and target - start
    a, b = np.asarray(end, np.float64) - start, np.asarray(target, np.float64) - start
    cos = a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-12)
    return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))


def region_name(axis, tokens):  # "nature", tokens -> "nature (bank: river)"; "technology (apple)": sense = axis
    from attention import lecture

    hits = [escape(t) if s == axis else f"{escape(t)}: {escape(s)}" for t in dict.fromkeys(str(t).lower() for t in tokens)
            if t in lecture.AMBIGUOUS for s in lecture.AMBIGUOUS[t] if axis in lecture.SENSES[s]]  # fmt: skip
    return f"{escape(axis)} ({', '.join(hits)})" if hits else escape(axis)


def _turn(o, a, b):  # three points -> the z of (a - o) x (b - o): > 0 turning left
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def hull(points):  # [n, 2] -> [m, 2]: the convex hull, counter-clockwise (Andrew's monotone chain)
    p = sorted(map(tuple, np.asarray(points, dtype=np.float64)))
    if len(p) < 3:
        return np.asarray(p)

    def half(seq):
        out = []
        for q in seq:
            while len(out) >= 2 and _turn(out[-2], out[-1], q) <= 0:
                out.pop()
            out.append(q)
        return out[:-1]

    return np.asarray(half(p) + half(p[::-1]))


def rounded_region(points, pad):  # [n, 2], data units -> [m, 2] closed outline: the hull grown by `pad` on every side
    """The region a cluster covers: every point of its convex hull, widened into a rounded blob of radius `pad`."""
    angles = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    circle = pad * np.stack([np.cos(angles), np.sin(angles)], axis=1)  # [24, 2]
    grown = hull((np.asarray(points, dtype=np.float64)[:, None, :] + circle[None]).reshape(-1, 2))
    return np.vstack([grown, grown[:1]])


def region_traces(points, groups, names, pad):  # [n_ref, 2], n_ref axis names, {axis: label}, data units -> traces
    """One translucent filled region per meaning cluster (hover names it): the clusters read as places on the map."""
    traces = []
    for i, axis in enumerate(dict.fromkeys(groups)):
        outline = rounded_region(np.asarray(points)[[g == axis for g in groups]], pad)
        traces.append(
            dict(type="scatter", x=outline[:, 0], y=outline[:, 1], mode="lines", fill="toself",
                 fillcolor=REGION_FILLS[i % len(REGION_FILLS)], line=dict(color=REGION_LINE, width=1),
                 name=names.get(axis, escape(axis)), hoverinfo="text", hoveron="fills",
                 text=names.get(axis, escape(axis)), showlegend=False)
        )  # fmt: skip
    return traces

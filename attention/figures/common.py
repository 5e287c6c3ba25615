"""What every figure shares: safe unique token labels, colour scales, the projector theme, PNG/SVG export."""

import html
import re

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

WEIGHTS_SCALE = "Viridis"  # perceptually uniform, sequential: weights live in [0, 1]
SCORES_SCALE = "RdBu_r"  # diverging around 0: raw scores are signed
FONT = dict(family="Inter, Segoe UI, Helvetica, Arial, sans-serif")
WIDE = re.compile(
    "[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6\U0001f000-\U0001faff]"
)  # CJK, Hangul, full-width forms, emoji: about 1 em wide
NARROW = set("ijlftrI.,:;'!|() ")
NUMBER = "−0.000"  # the widest tick label a numeric axis of ours draws, about


def escape(text):  # str -> str
    """Escape what plotly would read as markup (<b>, <a href>, &...;), so a token shows as typed."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def token_labels(tokens):  # list[str] n_seq -> list[str] n_seq, unique and escaped
    """Axis labels for tokens. Repeated tokens get their position ("an (2)", "an (5)") so plotly's
    categorical axes never merge them; blank tokens get a visible placeholder."""
    shown = [escape(t) if str(t).strip() else "␣" for t in tokens]
    counts = {}
    for s in shown:
        counts[s] = counts.get(s, 0) + 1
    return [f"{s} ({i})" if counts[s] > 1 else s for i, s in enumerate(shown)]


IMAGE_FORMATS = ("png", "svg")  # what plotly.js's own toolbar camera can save in the browser


def export_config(name, image_format="png"):  # str, "png" | "svg" -> plotly config dict
    """The toolbar's camera saves the chart as PNG at scale 2 (crisp on slides) or as SVG (for papers), in the
    browser, under a meaningful filename."""
    if image_format not in IMAGE_FORMATS:
        raise ValueError(f"image_format must be one of {IMAGE_FORMATS} (got {image_format!r})")
    return {
        "displaylogo": False,
        "toImageButtonOptions": {
            "format": image_format,
            "filename": slug(name),
            "scale": 2 if image_format == "png" else 1,
        },
    }


def slug(name):  # str -> a safe file name stem: "scores-raw-L0-H1"
    return re.sub(r"[^A-Za-z0-9_-]+", "-", str(name)).strip("-")[:80] or "attention"


def lean_white():  # -> go.layout.Template
    """plotly_white's look for the traces we draw (heatmap, bar, scatter), without its defaults for 40 other trace
    types and polar, ternary, 3-D and map axes: 1 kB instead of 7 kB in every figure, and ~3x faster to apply.
    No automargin: plotly.js would measure every tick label in the browser on every redraw (a forced layout per
    axis), so theme() sizes the margins from the labels instead."""
    white = pio.templates["plotly_white"].layout
    layout = {key: white[key] for key in ("autotypenumbers", "colorway", "font", "hovermode", "hoverlabel",
                                          "paper_bgcolor", "plot_bgcolor", "coloraxis", "title",
                                          "shapedefaults", "annotationdefaults")}  # fmt: skip
    for name in ("xaxis", "yaxis"):  # "allow": no measuring of labels to hide the ones past the figure's edge
        layout[name] = white[name].to_plotly_json() | dict(automargin=False, ticklabeloverflow="allow")
    data = dict(heatmap=[go.Heatmap(colorbar=dict(outlinewidth=0, ticks="", ticklabeloverflow="allow"))],
                bar=[go.Bar(marker_line=dict(color="white", width=0.5))])  # fmt: skip
    return go.layout.Template(layout=layout, data=data)


LEAN_WHITE = lean_white()


def em(text):  # str -> its width in em in a sans-serif face, about: "banana" 3.4, "supercalifragilistic" 8.9
    return sum(0.3 if c in NARROW else 0.85 if c in "mwMW@%" else 0.68 if c.isupper() else 1.0 if WIDE.match(c)
               else 0.56 for c in text)  # fmt: skip


def text_px(labels, size):  # list[str], font px -> px: the widest label's width (escaped: &lt; is one glyph)
    return size * max((em(html.unescape(str(t))) for t in labels), default=0.0)


AXIS = re.compile(r"^[xy]axis\d*$")


def axis_labels(axis, name, traces):  # axis dict, "xaxis2", trace dicts -> the tick labels plotly.js will draw there
    if axis.get("showticklabels") is False or axis.get("visible") is False:
        return []
    if axis.get("ticktext") is not None:
        return list(axis["ticktext"])
    ref, letter = name.replace("axis", ""), name[0]  # "xaxis2" -> "x2", "x"
    labels = []
    for trace in traces:
        if trace["type"] not in ("heatmap", "bar", "scatter", "scattergl") or (trace[letter + "axis"] or letter) != ref:
            continue
        values = trace[letter]
        if values is None or axis.get("type") not in ("category", None):
            labels.append(NUMBER)
        elif axis.get("type") == "category" or np.asarray(values).dtype.kind not in "biufc":  # words, not numbers
            labels += [str(v) for v in values if v is not None]
        else:
            labels.append(NUMBER)
    return labels


def auto_angle(axis, labels, wide):  # -> degrees: plotly turns labels upright (30° or more) once they would overlap
    domain = axis.get("domain")
    span = (domain[1] - domain[0]) if domain else 1.0
    return 90 if len(labels) * (wide + 12) > 1000 * span else 0  # 1000 px: about a chart's width in the page


def fit_margins(fig, size):  # go.Figure, font px -> (left, bottom) px: room for the tick labels and axis titles
    """What plotly's automargin finds (within ~10 px, checked against it in Chromium), computed here once instead of
    measured in the browser on every redraw. Every axis counts (an inner subplot's labels are as long as an outer
    one's), so a grid errs on the roomy side. Reads the layout as a plain dict: plotly's property lookups cost ~3 ms
    a grid."""
    layout = fig.layout.to_plotly_json()  # no arrays in it: a cheap copy
    axes = {"xaxis": {}, "yaxis": {}} | {k: v for k, v in layout.items() if AXIS.match(k)}
    traces = [{"type": t.type, **{k: getattr(t, k, None) for k in ("x", "y", "xaxis", "yaxis")}} for t in fig.data]
    cartesian = any(t["type"] != "scatter3d" for t in traces)
    left = bottom = 0.0
    for name, axis in axes.items():
        labels = axis_labels(axis, name, traces) if cartesian else []
        tick = axis.get("tickfont", {}).get("size") or size
        title = axis.get("title")
        title = title.get("text") if isinstance(title, dict) else title
        title = size * 1.15 + 12 if title else 0.0  # the title's line and plotly_white's standoff
        wide = text_px(labels, tick)
        if name.startswith("y"):
            left = max(left, (wide + 6 if labels else 0.0) + title)
        else:
            angle = axis.get("tickangle")
            angle = abs(angle if isinstance(angle, (int, float)) else auto_angle(axis, labels, wide))
            rad = np.radians(min(angle, 90))
            tall = wide * np.sin(rad) + tick * 1.15 * np.cos(rad)
            bottom = max(bottom, (tall + 8 if labels else 0.0) + title)
    return int(left) + 4, int(bottom) + 4


def fast_figure(data, layout):  # list[dict], dict -> go.Figure
    """A figure from plain dicts, skipping plotly's check of every property (~7 ms -> 1 ms a figure, paid on
    every rerun). Only for builders whose output tests/test_figure_payload.py runs through that check."""
    return go.Figure(dict(data=data, layout=layout), _validate=False)


def axis_names(i):  # cell i of a grid (row-major, from 0) -> ("xaxis", "yaxis") or ("xaxis3", "yaxis3")
    n = "" if i == 0 else str(i + 1)
    return f"xaxis{n}", f"yaxis{n}"


def axis_refs(i):  # cell i of a grid -> a trace's dict(xaxis="x3", yaxis="y3") to draw there ("x", "y" for cell 0)
    x, y = axis_names(i)
    return dict(xaxis=x.replace("axis", ""), yaxis=y.replace("axis", ""))


def subplot_grid(n_rows, n_cols, titles=(), column_widths=None, row_heights=None, horizontal_spacing=0.0,
                 vertical_spacing=0.0, shared_xaxes=False):  # fmt: skip  # -> layout dict
    """make_subplots' layout as plain dicts (its domains, anchors and title annotations, checked against it in
    tests/test_figure_payload.py): ~0.1 ms instead of ~20 ms of plotly's property machinery on every rerun.
    Cell i (row-major, top row first) draws on the axes axis_names(i); a trace there carries axis_refs(i)."""

    def spans(weights, n, gap):  # -> [(start, end)] of n cells sharing 1 - gap * (n - 1), in order
        w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
        sizes = w / w.sum() * (1.0 - gap * (n - 1))
        starts = np.concatenate([[0.0], np.cumsum(sizes + gap)[:-1]])
        return [(float(a), float(a + b)) for a, b in zip(starts, sizes, strict=True)]

    xs = spans(column_widths, n_cols, horizontal_spacing)
    ys = [(1.0 - end, 1.0 - start) for start, end in spans(row_heights, n_rows, vertical_spacing)]  # top row first
    layout, annotations = {}, []
    for i in range(n_rows * n_cols):
        (r, c), (x, y), refs = divmod(i, n_cols), axis_names(i), axis_refs(i)
        layout[x] = dict(anchor=refs["yaxis"], domain=list(xs[c]))
        layout[y] = dict(anchor=refs["xaxis"], domain=list(ys[r]))
        if shared_xaxes and r < n_rows - 1:  # the bottom row's axis names the columns' ticks
            layout[x].update(matches=axis_refs((n_rows - 1) * n_cols + c)["xaxis"], showticklabels=False)
        if i < len(titles):
            annotations.append(dict(font=dict(size=16), showarrow=False, text=titles[i], x=sum(xs[c]) / 2,
                                    xanchor="center", xref="paper", y=ys[r][1], yanchor="bottom", yref="paper"))  # fmt: skip
    if annotations:
        layout["annotations"] = annotations
    return layout


def theme(fig, present=False, height=None):  # go.Figure -> go.Figure (same object)
    """Readable defaults; presentation mode enlarges every font for a projector."""
    size = 20 if present else 13
    left, bottom = fit_margins(fig, size)
    fig.update_layout(
        font=dict(FONT, size=size),
        margin=dict(l=left, r=10, t=50 if fig.layout.title.text else 20, b=bottom),
        template=LEAN_WHITE,  # an object, not a name: a name would be looked up and copied on every figure
    )
    if height:
        fig.update_layout(height=int(height * (1.35 if present else 1)))
    return fig

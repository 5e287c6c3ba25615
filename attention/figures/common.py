"""What every figure shares: safe unique token labels, colour scales, the projector theme, PNG export."""

import html
import re

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

WEIGHTS_SCALE = "Viridis"  # perceptually uniform, sequential: weights live in [0, 1]
SCORES_SCALE = "RdBu_r"  # diverging around 0: raw scores are signed
FONT = dict(family="Inter, Segoe UI, Helvetica, Arial, sans-serif")
WIDE = re.compile("[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60"
                  "\uffe0-\uffe6\U0001f000-\U0001faff]")  # CJK, Hangul, full-width forms, emoji: about 1 em wide
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


def export_config(name):  # str -> plotly config dict
    """Toolbar PNG download with a meaningful filename at scale 2 (crisp on slides)."""
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", str(name)).strip("-")[:80] or "attention"
    return {
        "displaylogo": False,
        "toImageButtonOptions": {"format": "png", "filename": slug, "scale": 2},
    }


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


def axis_labels(fig, name):  # "xaxis2" -> list of the tick labels plotly.js will draw on that axis
    axis = fig.layout[name]
    if axis.showticklabels is False or axis.visible is False:
        return []
    if axis.ticktext is not None:
        return list(axis.ticktext)
    ref, letter = name.replace("axis", ""), name[0]  # "xaxis2" -> "x2", "x"
    labels = []
    for trace in fig.data:
        if trace.type not in ("heatmap", "bar", "scatter", "scattergl") or (trace[letter + "axis"] or letter) != ref:
            continue
        values = trace[letter]
        if values is None or axis.type not in ("category", None):
            labels.append(NUMBER)
        elif axis.type == "category" or np.asarray(values).dtype.kind not in "biufc":  # words, not numbers
            labels += [str(v) for v in values if v is not None]
        else:
            labels.append(NUMBER)
    return labels


def auto_angle(axis, labels, wide):  # -> degrees: plotly turns labels upright (30° or more) once they would overlap
    span = (axis.domain[1] - axis.domain[0]) if axis.domain else 1.0
    return 90 if len(labels) * (wide + 12) > 1000 * span else 0  # 1000 px: about a chart's width in the page


def fit_margins(fig, size):  # go.Figure, font px -> (left, bottom) px: room for the tick labels and axis titles
    """What plotly's automargin finds (within ~10 px, checked against it in Chromium), computed here once instead of
    measured in the browser on every redraw. Every axis counts (an inner subplot's labels are as long as an outer
    one's), so a grid errs on the roomy side."""
    left = bottom = 0.0
    cartesian = any(t.type != "scatter3d" for t in fig.data)
    for axis in [*fig.select_xaxes(), *fig.select_yaxes()]:
        labels = axis_labels(fig, axis.plotly_name) if cartesian else []
        tick = axis.tickfont.size or size
        title = size * 1.15 + 12 if axis.title.text else 0.0  # the title's line and plotly_white's standoff
        wide = text_px(labels, tick)
        if axis.plotly_name.startswith("y"):
            left = max(left, (wide + 6 if labels else 0.0) + title)
        else:
            angle = axis.tickangle if isinstance(axis.tickangle, (int, float)) else auto_angle(axis, labels, wide)
            angle = abs(angle)
            rad = np.radians(min(angle, 90))
            tall = wide * np.sin(rad) + tick * 1.15 * np.cos(rad)
            bottom = max(bottom, (tall + 8 if labels else 0.0) + title)
    return int(left) + 4, int(bottom) + 4


def fast_figure(data, layout):  # list[dict], dict -> go.Figure
    """A figure from plain dicts, skipping plotly's check of every property (~7 ms -> 1 ms a figure, paid on
    every rerun). Only for builders whose output tests/test_figure_payload.py runs through that check."""
    return go.Figure(dict(data=data, layout=layout), _validate=False)


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

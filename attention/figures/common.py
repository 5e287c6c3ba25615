"""What every figure shares: safe unique token labels, colour scales, the projector theme, PNG export."""

import re

import plotly.graph_objects as go
import plotly.io as pio

WEIGHTS_SCALE = "Viridis"  # perceptually uniform, sequential: weights live in [0, 1]
SCORES_SCALE = "RdBu_r"  # diverging around 0: raw scores are signed
FONT = dict(family="Inter, Segoe UI, Helvetica, Arial, sans-serif")


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
    types and polar, ternary, 3-D and map axes: 1 kB instead of 7 kB in every figure, and ~3x faster to apply."""
    white = pio.templates["plotly_white"].layout
    layout = {key: white[key] for key in ("autotypenumbers", "colorway", "font", "hovermode", "hoverlabel",
                                          "paper_bgcolor", "plot_bgcolor", "coloraxis", "xaxis", "yaxis",
                                          "shapedefaults", "annotationdefaults", "title")}  # fmt: skip
    data = dict(heatmap=[go.Heatmap(colorbar=dict(outlinewidth=0, ticks=""))], bar=[go.Bar(marker_line=dict(
        color="white", width=0.5))])  # fmt: skip
    return go.layout.Template(layout=layout, data=data)


LEAN_WHITE = lean_white()


def fast_figure(data, layout):  # list[dict], dict -> go.Figure
    """A figure from plain dicts, skipping plotly's check of every property (~7 ms -> 1 ms a figure, paid on
    every rerun). Only for builders whose output tests/test_figure_payload.py runs through that check."""
    return go.Figure(dict(data=data, layout=layout), _validate=False)


def theme(fig, present=False, height=None):  # go.Figure -> go.Figure (same object)
    """Readable defaults; presentation mode enlarges every font for a projector."""
    size = 20 if present else 13
    fig.update_layout(
        font=dict(FONT, size=size),
        margin=dict(l=10, r=10, t=50 if fig.layout.title.text else 20, b=10),
        template=LEAN_WHITE,  # an object, not a name: a name would be looked up and copied on every figure
    )
    if height:
        fig.update_layout(height=int(height * (1.35 if present else 1)))
    return fig

"""Labels that never overlap, placed here (plotly.js does not move text apart): each label's box is estimated from
its font size and characters, tried at free spots around its point (joined to it by a thin leader line once it
had to move), and left to hover when no spot is free. Deterministic: the same figure always gets the same places.

Pixels come from the figure itself: with equal axes and a y range tall enough that the plot's height sets the
scale (see fit_scale), one data unit is plot_height / y_span pixels at any window at least `min_width` wide.
"""

import html
import re
from dataclasses import dataclass, replace

import numpy as np

from .common import text_px

PAD = 3  # px kept free around every label box
SCALES = (0.85, 1.0, 1.2)  # a placement must hold if the drawn scale is off by this much (a narrower window)
RINGS = (0, 10, 18, 28, 40, 56, 76, 100, 130, 165)  # px from the point to the label box's nearest edge, tried in turn
DIRECTIONS = 16
SHRINK = (0.85, 0.72)  # a must-label's font, tried smaller in turn when it finds no room at its own size
MARKUP = re.compile(r"<[^>]+>")


@dataclass
class Label:
    """One piece of text tied to a point (data units). must: never left to hover (placed first, farther if need be)."""

    text: str  # plotly text: escaped, may hold <b>, <i>, <br>
    x: float
    y: float
    size: float  # font px
    colour: str
    z: float | None = None  # a 3-D view's third coordinate
    must: bool = False
    centred: bool = False  # first tried right on its point (a cluster's name), else beside it
    bold: bool = False
    bg: str | None = None  # a box behind the text (the note), else none
    border: str | None = None


def box(text, size, framed=False):  # plotly text, font px -> (width, height) px of its drawn box, a little generous
    lines = [html.unescape(MARKUP.sub("", t)) for t in re.split(r"<br\s*/?>", text)]
    bold = 1.08 if "<b>" in text else 1.0
    w = text_px(lines, size) * 1.05 * bold + 6 + (8 if framed else 0)
    h = len(lines) * size * 1.25 + 4 + (6 if framed else 0)
    return w, h


def fit_scale(x_range, y_range, plot_h, min_width):  # [lo, hi] x2, px -> (y_range widened, px per data unit)
    """Widen the y range until the plot's height, not its width, sets the scale of equal axes for any plot at least
    `min_width` px wide: then the scale is known here, plot_h / y_span, and plotly widens the x range to fit."""
    x_span, y_span = x_range[1] - x_range[0], y_range[1] - y_range[0]
    need = x_span * plot_h / min_width
    if need > y_span:
        mid = (y_range[0] + y_range[1]) / 2
        y_range = [mid - need / 2, mid + need / 2]
        y_span = need
    return y_range, plot_h / y_span


def _offsets(w, h, point_r, centred=False):  # -> [n, 2] px from the point to the box centre, nearest first
    angles = np.linspace(-np.pi / 2, 3 * np.pi / 2, DIRECTIONS, endpoint=False)  # first straight up, then clockwise
    order = sorted(range(DIRECTIONS), key=lambda a: (min(a, DIRECTIONS - a) % 4 != 0, a))  # up, right, down, left first
    c, s = np.cos(angles[order]), np.sin(angles[order])
    # from the point to the box centre: the gap plus the box's half extent along that direction
    half = np.minimum(w / 2 / np.maximum(np.abs(c), 1e-9), h / 2 / np.maximum(np.abs(s), 1e-9))
    rings = np.asarray(RINGS, dtype=np.float64)[:, None] + point_r
    reach = rings + half[None, :]  # [n_rings, DIRECTIONS]
    out = np.stack([c[None, :] * reach, s[None, :] * reach], axis=-1).reshape(-1, 2)
    return np.vstack([[[0.0, 0.0]], out]) if centred else out


def _free(cand, boxes):  # [n, 4], [m, 4] -> [n] bool: the candidates that touch none of the boxes
    if not len(boxes):
        return np.ones(len(cand), dtype=bool)
    hit = (cand[:, None, 0] < boxes[None, :, 2]) & (boxes[None, :, 0] < cand[:, None, 2])
    hit &= (cand[:, None, 1] < boxes[None, :, 3]) & (boxes[None, :, 1] < cand[:, None, 3])
    return ~hit.any(axis=1)


def place(labels, centre, scale, size_px, obstacles=()):  # -> [(Label, dx, dy)] placed, [Label] left to hover
    """Greedy, in the given order (must-labels should come first): each label takes its first free spot.

    centre: the data point at the plot's centre; scale: px per data unit; size_px: (width, height) of the plot;
    obstacles: data points (x, y, radius px) no label may cover (the followed word's points)."""
    placed, dropped = [], []
    taken = {s: np.zeros((0, 4)) for s in SCALES}

    def pixel(x, y, s):  # data -> px from the plot's centre (y down), at `s` times the expected scale
        return (x - centre[0]) * scale * s, -(y - centre[1]) * scale * s

    for ox, oy, r in obstacles:
        for s in SCALES:
            px, py = pixel(ox, oy, s)
            taken[s] = np.vstack([taken[s], [px - r, py - r, px + r, py + r]])
    half_w, half_h = size_px[0] / 2, size_px[1] / 2

    def spot(lab):  # -> (dx, dy, {scale: box}) of the first free spot inside the plot, or None
        w, h = box(lab.text, lab.size, lab.bg is not None)
        offsets = _offsets(w, h, 6, lab.centred)
        if lab.must:
            offsets = np.vstack([offsets, _offsets(w, h, 200)])
        cands, px0 = {}, pixel(lab.x, lab.y, 1.0)
        cx, cy = px0[0] + offsets[:, 0], px0[1] + offsets[:, 1]  # plotly.js pulls a label that sticks out back in
        ok = (cx - w / 2 >= -half_w) & (cx + w / 2 <= half_w) & (cy - h / 2 >= -half_h) & (cy + h / 2 <= half_h)
        for s in SCALES:
            px, py = pixel(lab.x, lab.y, s)
            cx, cy = px + offsets[:, 0], py + offsets[:, 1]
            cands[s] = np.stack([cx - w / 2 - PAD, cy - h / 2 - PAD, cx + w / 2 + PAD, cy + h / 2 + PAD], axis=1)
            ok &= _free(cands[s], taken[s])
        if not ok.any():
            return None
        k = int(np.argmax(ok))
        return float(offsets[k, 0]), float(offsets[k, 1]), {s: c[k] for s, c in cands.items()}

    for lab in labels:
        found = spot(lab)
        for shrink in SHRINK if lab.must else ():  # a label that must show gets smaller before it gives up
            if found is None:
                lab = replace(lab, size=round(lab.size * shrink))
                found = spot(lab)
        if found is None:
            dropped.append(lab)
            continue
        for s in SCALES:
            taken[s] = np.vstack([taken[s], found[2][s]])
        placed.append((lab, found[0], found[1]))
    return placed, dropped


def annotations(placed):  # [(Label, dx, dy)] -> plotly annotation dicts: the text at its spot, a leader if it moved
    out = []
    for lab, dx, dy in placed:
        moved = dx * dx + dy * dy > (0 if not lab.centred else 30**2)  # a cluster's name near its centre needs no line
        note = dict(
            x=float(lab.x), y=float(lab.y), xref="x", yref="y", text=lab.text, showarrow=True, ax=dx, ay=dy,
            arrowhead=0, arrowwidth=1, arrowcolor="rgba(110,110,110,0.6)" if moved else "rgba(0,0,0,0)",
            standoff=4, font=dict(color=lab.colour, size=lab.size), xanchor="center", yanchor="middle",
        )  # fmt: skip
        if lab.bg:
            note.update(bgcolor=lab.bg, bordercolor=lab.border or lab.colour, borderpad=3)
        out.append(note)
    return out

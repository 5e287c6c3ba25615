"""W_q, W_k, W_v, W_o for the lecture model: pure similarity, seeded random, or heads designed by hand.

All matrices are [d_model, d_model] in the x @ W convention of core.multi_head_attention: head h reads
its queries and keys from columns h·d_head .. (h+1)·d_head − 1 of x @ W_q and x @ W_k.
"""

import numpy as np

from .core import check_heads
from .vocab import AXES, D_MODEL, FREQUENCIES, POS_SCALE

PRESETS = ("identity", "random", "designed")
WEIGHT_NAMES = ("w_q", "w_k", "w_v", "w_o")
DESIGNED_CYCLE = ("topic", "previous-token", "self", "next-token")  # head h does DESIGNED_CYCLE[h % 4]
MAX_HEADS = 8
TOPIC_SHARPNESS = 0.4  # a designed topic head's score per unit of dot product, after ÷√d_head
# How far apart (in tokens) a positional head with 1, 2, 3, 4 frequency pairs still tells positions apart.
POSITION_REACH = (12, 40, 64, 128)

_N_SEM = len(AXES)


def check_n_head(n_head):  # raises ValueError unless 1 <= n_head <= 8 and n_head divides d_model
    """The lecture model takes 1-8 heads that split d_model = 24 evenly (core.check_heads says which)."""
    check_heads(D_MODEL, n_head)
    if isinstance(n_head, bool) or n_head > MAX_HEADS:
        ok = [h for h in range(1, MAX_HEADS + 1) if D_MODEL % h == 0]
        raise ValueError(f"n_head must be 1-{MAX_HEADS} and divide d_model = {D_MODEL} (got {n_head}); try one of {ok}")


def _check_preset(preset):
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {PRESETS} (got {preset!r})")


def preset_weights(preset, n_head, seed=0):  # -> dict(w_q, w_k, w_v, w_o), each [d_model, d_model] float32
    """The preset's four matrices for n_head heads (random ones drawn from `seed`)."""
    _check_preset(preset)
    check_n_head(n_head)
    eye = np.eye(D_MODEL, dtype=np.float32)
    if preset == "identity":  # Q = K = V = X: each word scores the others by plain similarity
        return {name: eye.copy() for name in WEIGHT_NAMES}
    if preset == "random":  # an untrained model: N(0, 1/d_model) keeps x @ W about as long as x
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a whole number >= 0 (got {seed!r}); any one gives a fixed random model")
        rng = np.random.default_rng(seed)
        return {
            name: (rng.standard_normal((D_MODEL, D_MODEL)) / np.sqrt(D_MODEL)).astype(np.float32)
            for name in WEIGHT_NAMES
        }
    d_head = D_MODEL // n_head
    w_q, w_k = np.zeros((D_MODEL, D_MODEL), np.float32), np.zeros((D_MODEL, D_MODEL), np.float32)
    for h in range(n_head):
        cols = slice(h * d_head, (h + 1) * d_head)
        w_q[:, cols], w_k[:, cols] = _designed_head(DESIGNED_CYCLE[h % len(DESIGNED_CYCLE)], d_head)
    # W_v = W_o = I: each head mixes its own slice of the features, so the output stays in word space.
    return {"w_q": w_q, "w_k": w_k, "w_v": eye.copy(), "w_o": eye.copy()}


def _designed_head(kind, d_head):  # -> ([d_model, d_head], [d_model, d_head]) query and key blocks
    q, k = np.zeros((D_MODEL, d_head), np.float32), np.zeros((D_MODEL, d_head), np.float32)
    if kind == "topic":  # fold the 16 semantic axes onto d_head dims (axis a -> dim a mod d_head)
        c = np.sqrt(TOPIC_SHARPNESS * np.sqrt(d_head))
        for a in range(_N_SEM):
            q[a, a % d_head] = k[a, a % d_head] = c
        return q, k
    shift = {"previous-token": -1, "self": 0, "next-token": 1}[kind]
    pairs = min(len(FREQUENCIES), d_head // 2)
    c = np.sqrt(_position_sharpness(pairs) * np.sqrt(d_head)) / POS_SCALE
    for p in range(pairs):
        w = -FREQUENCIES[p] * shift  # rotate PE(i) to PE(i + shift): q_i · k_j peaks at j = i + shift
        rot = np.array([[np.cos(w), np.sin(w)], [-np.sin(w), np.cos(w)]], dtype=np.float32)
        rows, cols = slice(_N_SEM + 2 * p, _N_SEM + 2 * p + 2), slice(2 * p, 2 * p + 2)
        q[rows, cols] = c * rot
        k[rows, cols] = c * np.eye(2, dtype=np.float32)
    return q, k


def _position_sharpness(pairs):  # int -> float: score scale that makes the peak win clearly within reach
    """Scale so the target position beats each of the 2·reach others by a factor ≥ e³·2·reach in softmax."""
    reach = POSITION_REACH[pairs - 1]
    d = np.arange(1, reach + 1)[:, None]
    gap = pairs - np.cos(d * np.asarray(FREQUENCIES[:pairs])).sum(axis=1).max()  # peak minus best rival
    return (np.log(2 * reach) + 3.0) / gap


def _feature_range(h, d_head):  # -> "food..place" style label of the features head h writes
    from .lecture import AXIS_LABELS

    lo, hi = h * d_head, (h + 1) * d_head - 1
    return f"features {lo}-{hi} ({AXIS_LABELS[lo]} .. {AXIS_LABELS[hi]})"


def head_descriptions(preset, n_head):  # -> list[str], one line per head
    """What each head of the preset looks for, in one line a student can check against the heatmap."""
    _check_preset(preset)
    check_n_head(n_head)
    d_head = D_MODEL // n_head
    lines = []
    for h in range(n_head):
        where = _feature_range(h, d_head)
        if preset == "identity":
            lines.append(f"similarity head: Q = K = V = X on {where}; each word attends to words like itself")
        elif preset == "random":
            lines.append(f"random head: untrained, seeded random W_q, W_k, W_v on {where}; no designed meaning")
        else:
            lines.append(_designed_line(DESIGNED_CYCLE[h % len(DESIGNED_CYCLE)], d_head, where))
    return lines


def _designed_line(kind, d_head, where):  # -> str
    if kind == "topic":
        folded = "" if d_head >= _N_SEM else f" (16 axes folded into {d_head} dims, so some topics blur)"
        return f"topic head: attends to words that share a topic{folded}; mixes {where}"
    pairs = min(len(FREQUENCIES), d_head // 2)
    target = {"previous-token": "the word before", "self": "itself", "next-token": "the word after"}[kind]
    reach = POSITION_REACH[pairs - 1]
    return (
        f"{kind} head: attends to {target} via the positional encoding (reliable up to ~{reach} tokens); mixes {where}"
    )

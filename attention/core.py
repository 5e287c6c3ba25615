"""Scaled dot-product and multi-head attention, with every intermediate kept (Vaswani et al. 2017).

One dimension vocabulary everywhere: n_seq tokens, n_head heads, d_model = n_head * d_head.
Arrays are float32. Masks are boolean: True means "this query may look at this key".
"""

from dataclasses import dataclass

import numpy as np

SIMILARITIES = ("dot", "cosine")


def check_temperature(temperature):  # float -> float
    """Temperatures divide the scores, so they must be finite and > 0."""
    t = float(temperature)
    if not np.isfinite(t) or t <= 0:
        raise ValueError(f"temperature must be > 0 (got {temperature}); try 0.5-2, where 1 is plain softmax")
    return t


def softmax(x, axis=-1, temperature=1.0):  # [..., n] -> [..., n]
    """Stable softmax of x / temperature. A row that is all -inf (every key masked) becomes zeros, not NaN."""
    return softmax_inplace(np.array(x, dtype=np.float32), axis=axis, temperature=temperature)


def softmax_inplace(x, axis=-1, temperature=1.0):  # [..., n] float32 -> the same array, overwritten
    """softmax() without copies: x is overwritten by its weights (the forward passes of real models use this)."""
    t = check_temperature(temperature)
    if t != 1.0:
        x /= np.float32(t)
    row_max = np.max(x, axis=axis, keepdims=True)
    row_max[~np.isfinite(row_max)] = 0.0  # all-masked rows: subtract nothing
    x -= row_max  # the max of each row becomes exp(0) = 1, so nothing overflows
    np.exp(x, out=x)
    total = np.sum(x, axis=axis, keepdims=True)
    total[total == 0] = 1.0  # an all-masked row is exp(-inf) = 0 everywhere and stays 0
    x *= np.reciprocal(total, out=total)  # n_seq reciprocals, then multiplies: cheaper than n_seq² divisions
    return x


def causal_mask(n_seq):  # int -> [n_seq, n_seq] bool
    """Lower triangle: query i may look at keys 0..i only (a decoder's mask)."""
    return np.tril(np.ones((n_seq, n_seq), dtype=bool))


def key_mask(keep):  # [n_seq] bool -> [n_seq, n_seq] bool
    """Padding mask: every query may look only at the keys marked keep=True."""
    keep = np.asarray(keep, dtype=bool)
    return np.broadcast_to(keep[None, :], (keep.size, keep.size)).copy()


def combine_masks(*masks):  # several [n_seq, n_seq] bool or None -> [n_seq, n_seq] bool or None
    """A query may look at a key only if every mask allows it."""
    masks = [np.asarray(m, dtype=bool) for m in masks if m is not None]
    return np.logical_and.reduce(masks) if masks else None


def similarity(q, k, kind="dot", out=None):  # [..., n_seq, d_head], [..., n_seq, d_head] -> [..., n_seq, n_seq]
    """Raw scores: QKᵀ (dot grows with length), or cos(q, k) (only the angle). out: optional result array."""
    if kind == "dot":
        return np.matmul(q, k.swapaxes(-1, -2), out=out)
    if kind == "cosine":
        qn = q / np.maximum(np.linalg.norm(q, axis=-1, keepdims=True), 1e-12)
        kn = k / np.maximum(np.linalg.norm(k, axis=-1, keepdims=True), 1e-12)
        return np.matmul(qn, kn.swapaxes(-1, -2), out=out)
    raise ValueError(f"similarity must be one of {SIMILARITIES} (got {kind!r})")


def score_scale(d_head, kind="dot", scale=True):  # -> float
    """1/√d_head for dot products (their spread grows like √d_head); cosine is already in [-1, 1], so 1."""
    return 1.0 / np.sqrt(d_head) if (scale and kind == "dot") else 1.0


def mask_scores(scores, mask):  # [..., n_seq, n_seq] float32, [n_seq, n_seq] bool -> the same array
    """-inf where the mask forbids a key (in place): exp(-inf) = 0, so that key gets no weight."""
    if mask is not None:
        np.copyto(scores, np.float32(-np.inf), where=~np.asarray(mask, dtype=bool))
    return scores


@dataclass
class Attention:
    """Every stage of softmax(QKᵀ/√d_head)·V for n_head heads (a single head has n_head = 1)."""

    queries: np.ndarray  # [n_head, n_seq, d_head]
    keys: np.ndarray  # [n_head, n_seq, d_head]
    values: np.ndarray  # [n_head, n_seq, d_head]
    scores: np.ndarray  # [n_head, n_seq, n_seq] raw QKᵀ (or cosine)
    scaled: np.ndarray  # [n_head, n_seq, n_seq] scores · scale
    masked: np.ndarray  # [n_head, n_seq, n_seq] scaled, -inf where the mask forbids
    weights: np.ndarray  # [n_head, n_seq, n_seq] softmax(masked / temperature); rows sum to 1 (or 0 if all masked)
    output: np.ndarray  # [n_head, n_seq, d_head] weights · V
    scale: float  # the factor applied to the raw scores


def attention(q, k, v, mask=None, temperature=1.0, similarity_kind="dot", scale=True, bias=None):
    """Scaled dot-product attention with every intermediate (Vaswani et al. 2017, eq. 1).

    q, k, v: [n_head, n_seq, d_head] (or [n_seq, d_head] for one head, returned with n_head = 1).
    mask: [n_seq, n_seq] or [n_head, n_seq, n_seq] bool, True where a query may look at a key.
    bias: optional additive term on the scaled scores, broadcastable to [n_head, n_seq, n_seq]
          (real checkpoints use it for their -inf padding / -10000 conventions; most callers leave it None).
    """
    q, k, v = (np.asarray(a, dtype=np.float32) for a in (q, k, v))
    if q.ndim == 2:
        q, k, v = q[None], k[None], v[None]
    check_temperature(temperature)
    d_head = q.shape[-1]
    s = np.float32(score_scale(d_head, similarity_kind, scale))
    scores = similarity(q, k, similarity_kind).astype(np.float32)  # [n_head, n_seq, n_seq]
    scaled = scores * s
    if bias is not None:
        scaled = scaled + np.asarray(bias, dtype=np.float32)
    masked = scaled if mask is None else mask_scores(scaled.copy(), mask)
    weights = softmax(masked, axis=-1, temperature=temperature)
    output = weights @ v  # [n_head, n_seq, d_head]: each query's weighted sum of value rows
    return Attention(q, k, v, scores, scaled, masked, weights, output, float(s))


def attention_weights(q, k, mask=None, temperature=1.0, similarity_kind="dot", scale=True, out=None):
    """The weights of attention() only, computed in place (real models' forward passes: no intermediates kept).

    q, k: [n_head, n_seq, d_head]; out: optional [n_head, n_seq, n_seq] float32 to write into. Returns the weights.
    """
    s = np.float32(score_scale(q.shape[-1], similarity_kind, scale))
    q = q * s if s != 1 else q  # scaling n_seq·d_head queries is cheaper than n_seq² scores; same product
    scores = similarity(q, k, similarity_kind, out=out)
    return softmax_inplace(mask_scores(scores, mask), temperature=temperature)


def split_heads(x, n_head):  # [n_seq, d_model] -> [n_head, n_seq, d_head]
    """Cut the feature axis into n_head equal slices, one per head."""
    n_seq, d_model = x.shape
    check_heads(d_model, n_head)
    return x.reshape(n_seq, n_head, d_model // n_head).transpose(1, 0, 2)


def merge_heads(x):  # [n_head, n_seq, d_head] -> [n_seq, n_head * d_head]
    """Concatenate the heads' outputs side by side (the inverse of split_heads)."""
    n_head, n_seq, d_head = x.shape
    return x.transpose(1, 0, 2).reshape(n_seq, n_head * d_head)


def check_heads(d_model, n_head):  # raises ValueError unless n_head divides d_model
    """d_model must split evenly into heads of d_head >= 1 features."""
    if not isinstance(n_head, (int, np.integer)) or n_head < 1 or d_model % n_head:
        ok = [h for h in range(1, 9) if d_model % h == 0]
        raise ValueError(f"n_head must divide d_model = {d_model} (got {n_head}); try one of {ok}")


@dataclass
class MultiHead:
    """Multi-head attention: per-head stages, their concatenation and the output projection W_o."""

    heads: Attention  # per-head intermediates, [n_head, ...]
    concat: np.ndarray  # [n_seq, d_model] the heads' outputs side by side
    output: np.ndarray  # [n_seq, d_model] concat · W_o (+ b_o)


def multi_head_attention(x, w_q, w_k, w_v, w_o, n_head, b_q=None, b_k=None, b_v=None, b_o=None, **kwargs):
    """MultiHead(X) = Concat(head_1..head_h) W_o, head_i = Attention(X W_q_i, X W_k_i, X W_v_i).

    x: [n_seq, d_model]; w_q, w_k, w_v, w_o: [d_model, d_model] (x @ w convention); biases [d_model].
    kwargs (mask, temperature, similarity_kind, scale, bias) pass through to attention().
    """
    x = np.asarray(x, dtype=np.float32)

    def project(w, b):  # -> [n_head, n_seq, d_head]
        y = x @ np.asarray(w, dtype=np.float32)
        return split_heads(y if b is None else y + b, n_head)

    heads = attention(project(w_q, b_q), project(w_k, b_k), project(w_v, b_v), **kwargs)
    concat = merge_heads(heads.output)  # [n_seq, d_model]
    output = concat @ np.asarray(w_o, dtype=np.float32)
    return MultiHead(heads, concat, output if b_o is None else output + b_o)

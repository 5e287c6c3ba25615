"""Beyond the raw weights: value-weighted attention, rollout through the layers, and switching heads off.

Pure numpy on arrays; every model reaches these through attention.flow_models. Matrices act on row vectors
(x @ W), so a checkpoint's Linear weight [n_out, n_in] enters transposed.
"""

import numpy as np


def kv_map(n_head, n_kv_head=None, kv_heads=None):  # -> [n_head] int: the KV head each query head reads
    """kv_heads as given, else consecutive groups of n_head / n_kv_head query heads (GQA; MHA: 0, 1, 2, …)."""
    if kv_heads is not None:
        return np.asarray(kv_heads, dtype=int)
    n_kv_head = n_head if n_kv_head is None else n_kv_head
    if n_head % n_kv_head:
        raise ValueError(f"n_kv_head = {n_kv_head} must divide n_head = {n_head}")
    return np.arange(n_head) // (n_head // n_kv_head)


def value_vectors(x, w_v, b_v, w_o, n_head, kv_heads=None):
    """f^h(x_j) = (x_j W_v^h + b_v^h) W_o^h: what key j sends through head h once W_o has mixed it.

    x [n_seq, d_model] (input to the q/k/v projections, after any pre-norm); w_v [d_model, n_kv_head·d_head];
    b_v [n_kv_head·d_head] or None; w_o [n_head·d_head, d_model]; kv_heads [n_head] -> f [n_head, n_seq, d_model].
    W_v^h is the columns of the head's KV group, W_o^h the rows of head h.
    """
    x, w_v, w_o = (np.asarray(a, dtype=np.float64) for a in (x, w_v, w_o))
    d_head = w_o.shape[0] // n_head
    n_kv_head = w_v.shape[1] // d_head
    v = x @ w_v + (0.0 if b_v is None else np.asarray(b_v, dtype=np.float64))  # [n_seq, n_kv_head·d_head]
    v = v.reshape(len(x), n_kv_head, d_head).transpose(1, 0, 2)  # [n_kv_head, n_seq, d_head]
    v = v[kv_map(n_head, n_kv_head, kv_heads)]  # [n_head, n_seq, d_head]
    return np.matmul(v, w_o.reshape(n_head, d_head, -1))  # [n_head, n_seq, d_model]


def value_norms(weights, f):  # [n_head, n_seq, n_seq], [n_head, n_seq, d_model] -> [n_head, n_seq, n_seq]
    """Per head (Kobayashi et al. 2020): ‖α^h_ij f^h(x_j)‖ = α^h_ij ‖f^h(x_j)‖, since α ≥ 0."""
    norms = np.linalg.norm(np.asarray(f, dtype=np.float64), axis=-1).astype(np.float32)  # [n_head, n_seq]
    return np.asarray(weights, dtype=np.float32) * norms[:, None, :]


def value_norms_layer(weights, f):  # [n_head, n_seq, n_seq], [n_head, n_seq, d_model] -> [n_seq, n_seq]
    """Per layer: ‖Σ_h α^h_ij f^h(x_j)‖, from ‖·‖² = Σ_h Σ_g α^h_ij α^g_ij ⟨f^h_j, f^g_j⟩ (no n_seq² × d_model array)."""
    a, f = np.asarray(weights, dtype=np.float64), np.asarray(f, dtype=np.float64)
    gram = np.matmul(f.transpose(1, 0, 2), f.transpose(1, 2, 0))  # [n_seq (j), n_head, n_head] ⟨f^h_j, f^g_j⟩
    by_key = a.transpose(2, 1, 0)  # [n_seq (j), n_seq (i), n_head]
    squared = np.einsum("jih,jih->ij", by_key @ gram, by_key)  # per key j, one batched matmul: αᵀ G_j α
    return np.sqrt(np.clip(squared, 0.0, None)).astype(np.float32)


def small_value_tokens(sizes, tokens, share=0.5):  # [n_seq] ‖f(x_j)‖, n_seq tokens -> list[(token, ratio to median)]
    """Tokens whose ‖f(x_j)‖ is below `share` of the median: a weight on them moves little. Smallest first."""
    sizes = np.asarray(sizes, dtype=np.float64)
    median = float(np.median(sizes)) or 1.0
    order = np.argsort(sizes, kind="stable")
    return [(tokens[j], float(sizes[j] / median)) for j in order if sizes[j] < share * median]


def rollout(weights):  # [n_layer, n_head, n_seq, n_seq] -> [n_layer, n_seq, n_seq]; out[l] = R_{l+1}
    """Attention rollout (Abnar & Zuidema 2020): Ā_l = head mean, Ã_l = rownorm(0.5·Ā_l + 0.5·I), R_l = Ã_l R_{l−1}."""
    w = np.asarray(weights, dtype=np.float32)
    n_seq = w.shape[-1]
    out, r = np.empty((w.shape[0], n_seq, n_seq), np.float32), np.eye(n_seq, dtype=np.float32)
    for layer, mean in enumerate(w.mean(axis=1)):
        a = 0.5 * mean + 0.5 * np.eye(n_seq, dtype=np.float32)
        a /= a.sum(axis=-1, keepdims=True)
        r = a @ r
        out[layer] = r
    return out


def mask_heads(concat, keep):  # [n_seq, n_head·d_head], [n_head] bool/float -> [n_seq, n_head·d_head]
    """Head h's slice of the concatenation before W_o times keep[h] (0 switches the head off)."""
    concat = np.asarray(concat)
    n_seq, width = concat.shape
    keep = np.asarray(keep, dtype=concat.dtype)
    return (concat.reshape(n_seq, len(keep), width // len(keep)) * keep[None, :, None]).reshape(n_seq, width)


def head_mask(n_layer, n_head, layer, head):  # -> [n_layer, n_head] float32: ones, and 0 at (layer, head)
    mask = np.ones((n_layer, n_head), np.float32)
    mask[layer, head] = 0.0
    return mask


def softmax64(logits):  # [..., vocab] -> [..., vocab] float64 probabilities
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def kl_divergence(p, q):  # [..., vocab], [..., vocab] probabilities -> [...] nats
    """KL(p ‖ q) = Σ_v p_v (log p_v − log q_v); terms with p_v = 0 count 0."""
    p, q = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
    ratio = np.log(np.where(p > 0, p, 1.0)) - np.log(np.where(p > 0, np.maximum(q, 1e-300), 1.0))
    return np.sum(p * ratio, axis=-1)


def mean_pooled_cosine(hidden_a, hidden_b):  # [n_seq, d_model], [n_seq, d_model] -> float
    """cos(mean_i a_i, mean_i b_i): how much a sentence embedding (mean pooling, as MiniLM) keeps its direction."""
    a, b = (np.asarray(h, dtype=np.float64).mean(axis=0) for h in (hidden_a, hidden_b))
    return float(a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-300))


def pull_change(x, after, after_off, token):  # [n_seq, d_model] x3, int -> float
    """‖pull_off − pull‖ / ‖pull‖ for one token, pull = after − x: 0 when the head changes nothing, 1 when without it
    the token is not pulled at all."""
    x, after, after_off = (np.asarray(a, dtype=np.float64)[token] for a in (x, after, after_off))
    pull = after - x
    return float(np.linalg.norm((after_off - x) - pull) / max(np.linalg.norm(pull), 1e-12))


def ablation_grid(effect, n_layer, n_head):  # callable (layer, head) -> float -> [n_layer, n_head] float32
    """Switch off each head in turn: grid[l, h] = effect(l, h)."""
    return np.array([[effect(layer, h) for h in range(n_head)] for layer in range(n_layer)], dtype=np.float32)

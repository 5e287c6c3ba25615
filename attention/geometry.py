"""The geometry of one head's queries and keys (AttentionViz) and the neuron view of one score (BertViz).

Both normalisations leave every softmax row unchanged, so the picture is fair to what the head computes.
"""

from dataclasses import dataclass

import numpy as np

from .pull import fit_pca


def translate_keys(q, k):  # [n_seq, d_head], [n_seq, d_head] -> [n_seq, d_head] keys
    """k' = k − c with c = mean(k) − mean(q): q_i·k'_j = q_i·k_j − q_i·c, a constant per query row (softmax ignores it)."""
    q, k = np.asarray(q, dtype=np.float64), np.asarray(k, dtype=np.float64)
    return k - (k.mean(axis=0) - q.mean(axis=0))


def equal_mean_norm(q, k):  # [n_seq, d_head] x2 -> (q·s, k/s), s = √(mean‖k‖ / mean‖q‖)
    """Scale so that mean‖q'‖ = mean‖k'‖; q'·k' = (s q)·(k/s) = q·k, every score unchanged."""
    q, k = np.asarray(q, dtype=np.float64), np.asarray(k, dtype=np.float64)
    nq, nk = np.linalg.norm(q, axis=-1).mean(), np.linalg.norm(k, axis=-1).mean()
    s = np.sqrt(nk / nq) if nq > 0 and nk > 0 else 1.0
    return q * s, k / s


@dataclass
class JointProjection:
    queries: np.ndarray  # [n_seq, 2]
    keys: np.ndarray  # [n_seq, 2]
    explained_variance_ratio: np.ndarray  # [2]


def joint_pca(q, k, translate=True, equalize=True):  # [n_seq, d_head] x2 -> JointProjection
    """One PCA of a head's queries and keys together (2 n_seq points), after the chosen normalisations."""
    q, k = np.asarray(q, dtype=np.float64), np.asarray(k, dtype=np.float64)
    if translate:
        k = translate_keys(q, k)
    if equalize:
        q, k = equal_mean_norm(q, k)
    points, ratio = fit_pca(np.concatenate([q, k]), 2)
    return JointProjection(points[: len(q)], points[len(q) :], ratio)


def top_keys(weights_row, k=3):  # [n_seq] -> list[int]: the k keys this query weights most (weight > 0), heaviest first
    w = np.asarray(weights_row, dtype=np.float64)
    order = sorted(range(len(w)), key=lambda j: (-w[j], j))
    return [j for j in order if w[j] > 0][:k]


@dataclass
class Neuron:
    query: np.ndarray  # [d_head] q_i (after RoPE for rotary models)
    key: np.ndarray  # [d_head] k_j
    product: np.ndarray  # [d_head] q_i ⊙ k_j
    raw: float  # Σ_d q_id k_jd = q_i · k_j
    scaled: float  # raw / √d_head


def neuron_view(q, k):  # [d_head], [d_head] -> Neuron
    """q_i, k_j and q_i ⊙ k_j element by element; their sum is the raw score, ÷ √d_head the scaled one."""
    q, k = np.asarray(q, dtype=np.float64), np.asarray(k, dtype=np.float64)
    product = q * k
    raw = float(product.sum())
    return Neuron(q, k, product, raw, raw / np.sqrt(len(q)))

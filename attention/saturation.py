"""Why attention divides by √d_head: without it, softmax saturates as d_head grows (Vaswani et al. 2017, §3.2.1).

Draw queries and keys with unit-variance entries. Their dot product q·k is a sum of d_head unit-variance
terms, so its spread grows like √d_head; softmax of ever larger scores approaches one-hot, its entropy
falls to 0 and its Jacobian (the gradient that flows back through it) vanishes. Dividing by √d_head keeps
the spread at 1 for every d_head.
"""

from dataclasses import dataclass

import numpy as np

from .core import softmax


@dataclass
class Saturation:
    """Mean softmax statistics over random rows of n_keys scores, for each d_head, unscaled and ÷√d_head."""

    d_heads: np.ndarray  # [n_d] int
    n_keys: int
    score_std: dict  # "unscaled"/"scaled" -> [n_d] standard deviation of the scores
    max_weight: dict  # "unscaled"/"scaled" -> [n_d] mean of each row's largest weight (1/n_keys .. 1)
    entropy: dict  # "unscaled"/"scaled" -> [n_d] mean entropy in nats (0 .. log n_keys)
    gradient: dict  # "unscaled"/"scaled" -> [n_d] mean Frobenius norm of softmax's Jacobian


def random_scores(d_head, n_keys=16, n_rows=256, seed=0):  # -> [n_rows, n_keys] raw q·k scores
    """Dot products of one random query with n_keys random keys, all entries ~ N(0, 1), n_rows times."""
    if int(d_head) < 1 or int(n_keys) < 2 or int(n_rows) < 1:
        raise ValueError(f"need d_head >= 1, n_keys >= 2, n_rows >= 1 (got {d_head}, {n_keys}, {n_rows})")
    rng = np.random.default_rng([int(seed), int(d_head)])
    q = rng.standard_normal((n_rows, 1, d_head)).astype(np.float32)  # [n_rows, 1, d_head]
    k = rng.standard_normal((n_rows, n_keys, d_head)).astype(np.float32)  # [n_rows, n_keys, d_head]
    return (q * k).sum(axis=-1)  # [n_rows, n_keys]


def entropy(weights):  # [..., n] -> [...] nats
    """Shannon entropy of each row; 0·log 0 counts as 0."""
    w = np.asarray(weights, dtype=np.float64)
    logs = np.log(w, out=np.zeros_like(w), where=w > 0)
    return -(w * logs).sum(axis=-1)


def jacobian_norm(weights):  # [..., n] -> [...]
    """‖∂softmax/∂scores‖_F, with J = diag(p) − p pᵀ: near 0 when p is one-hot (vanishing gradients)."""
    p = np.asarray(weights, dtype=np.float64)
    jac = np.eye(p.shape[-1]) * p[..., None, :] - p[..., :, None] * p[..., None, :]  # [..., n, n]
    return np.sqrt((jac**2).sum(axis=(-2, -1)))


def saturation(d_heads=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512), n_keys=16, n_rows=256, seed=0):  # -> Saturation
    """Softmax statistics of random q·k scores as d_head grows, with and without ÷√d_head."""
    d_heads = np.asarray(d_heads, dtype=int)
    stats = {name: {"unscaled": [], "scaled": []} for name in ("score_std", "max_weight", "entropy", "gradient")}
    for d in d_heads:
        raw = random_scores(d, n_keys, n_rows, seed)  # [n_rows, n_keys]
        for kind, scores in (("unscaled", raw), ("scaled", raw / np.float32(np.sqrt(d)))):
            weights = softmax(scores, axis=-1)
            stats["score_std"][kind].append(scores.std())
            stats["max_weight"][kind].append(weights.max(axis=-1).mean())
            stats["entropy"][kind].append(entropy(weights).mean())
            stats["gradient"][kind].append(jacobian_norm(weights).mean())
    arrays = {name: {kind: np.asarray(v, dtype=np.float32) for kind, v in d.items()} for name, d in stats.items()}
    return Saturation(d_heads, int(n_keys), **arrays)

"""The optimiser: AdamW (Loshchilov & Hutter 2019), global gradient-norm clipping, and the learning-rate
schedule (linear warm-up, then cosine decay to a tenth)."""

import math

import numpy as np


def lr_at(step, steps, lr, warmup, floor=0.1):  # 0-based step -> float: the learning rate for this step
    """lr·(step + 1)/warmup during warm-up, then cosine from lr down to floor·lr at the last step."""
    if step < warmup:
        return lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - 1 - warmup)
    return lr * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))


def global_norm(grads):  # {name: array} -> float: √(Σ g²) over every parameter
    return math.sqrt(sum(float(np.vdot(g, g)) for g in grads.values()))


def clip_(grads, max_norm):  # {name: array} -> float, the norm before clipping; scales grads in place
    """If the gradient's global norm exceeds max_norm, scale it down to max_norm."""
    norm = global_norm(grads)
    if norm > max_norm:
        factor = np.float32(max_norm / (norm + 1e-6))
        for g in grads.values():
            g *= factor
    return norm


def adamw_state(params):  # -> {"t": 0, "m": {...}, "v": {...}}: zero first and second moments
    zeros = lambda: {k: np.zeros_like(v) for k, v in params.items()}  # noqa: E731
    return {"t": 0, "m": zeros(), "v": zeros()}


def decays(name, value):  # -> bool: weight decay on matrices (and the embeddings), not on biases or LayerNorm
    return value.ndim == 2


def adamw_(params, grads, state, lr, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1):  # updates params in place
    """m ← β₁m + (1-β₁)g, v ← β₂v + (1-β₂)g², θ ← θ - lr·(m̂/(√v̂ + ε) + λθ), with bias-corrected m̂, v̂."""
    b1, b2 = betas
    state["t"] += 1
    t = state["t"]
    step = np.float32(lr / (1 - b1**t))
    v_hat = np.float32(1 / (1 - b2**t))
    for name, p in params.items():
        g, m, v = grads[name], state["m"][name], state["v"][name]
        m *= np.float32(b1)
        m += np.float32(1 - b1) * g
        v *= np.float32(b2)
        v += np.float32(1 - b2) * g * g
        if weight_decay and decays(name, p):
            p *= np.float32(1 - lr * weight_decay)
        denom = np.sqrt(v * v_hat)
        denom += np.float32(eps)
        p -= step * m / denom

"""The shared vocabulary of every real model: threads, activations, norms, linear layers, RoPE and attention.

Each family file (encoders, gpt2, llama) builds its layers from these small functions.
"""

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..core import attention_weights

ERF_P = np.float32(0.3275911 / np.sqrt(2.0))  # Abramowitz & Stegun 7.1.26, |error| <= 1.5e-7, on z = x/√2
ERFC_HALF = [np.float32(a / 2) for a in (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)]
CHUNK = 1 << 15  # elements per GELU chunk: its scratch arrays stay in the CPU's L2 cache
PARALLEL_FROM = 256  # n_seq from which the pass runs on our threads (below, BLAS's own threads are faster)
WORKERS, POOL = 1, None  # threads for a long pass (token blocks, heads), the caller included; set_workers below


def set_workers(n):  # -> None: how many threads the forward pass may use (the benchmark matches torch's count)
    global WORKERS, POOL
    WORKERS = max(1, int(n))
    POOL = ThreadPoolExecutor(WORKERS - 1, thread_name_prefix="attention") if WORKERS > 1 else None


set_workers(min(4, os.cpu_count() or 1))  # numpy's ufuncs are single-threaded; torch uses every core


def spread(fn, n, parallel=True, *args):  # calls fn(start, stop, *args) on WORKERS slices of range(n)
    """numpy releases the GIL inside ufunc loops and BLAS, so independent slices run on several cores at once.
    The first slice runs on this thread."""
    if POOL is None or not parallel or n < 2:
        return fn(0, n, *args)
    bounds = np.linspace(0, n, min(WORKERS, n) + 1).astype(int)
    others = [POOL.submit(fn, a, b, *args) for a, b in zip(bounds[1:-1], bounds[2:], strict=True)]
    fn(bounds[0], bounds[1], *args)
    for job in others:
        job.result()  # re-raises a worker's exception here


BLAS, BLAS_LOCK = None, threading.Lock()


def blas_on_one_thread():  # -> context manager: numpy's BLAS on one thread while our own threads split the work
    """OpenBLAS's idle threads spin for a while after each call. Had the pass mixed BLAS's threads with ours, they
    would fight for the same cores and a 512-token pass would take twice as long, so a long pass runs every
    matmul, ufunc and head on our threads."""
    global BLAS
    if BLAS is None:
        from threadpoolctl import ThreadpoolController

        BLAS = ThreadpoolController().select(user_api="blas")
    return BLAS.limit(limits=1)


def half_erfc(a, t, u):  # a = |x| [m] -> u [m] = Φ(-|x|) = erfc(|x|/√2) / 2; t is scratch [m]
    """A&S 7.1.26 in float32: erfc(z) ≈ t·(a1 + t·(a2 + … a5·t))·exp(-z²), t = 1 / (1 + p·z)."""
    np.multiply(a, ERF_P, out=t)
    t += 1
    np.reciprocal(t, out=t)
    np.multiply(t, ERFC_HALF[4], out=u)
    for c in ERFC_HALF[3::-1]:  # Horner
        u += c
        u *= t
    with np.errstate(over="ignore"):  # |x| > 1.8e19 squares to inf, and exp(-inf) = 0 is right
        np.multiply(a, a, out=t)
    t *= np.float32(-0.5)
    np.exp(t, out=t)  # exp(-z²) with z = |x|/√2
    u *= t
    return u


def gelu_(x):  # [...] float32 -> the same array: x·Φ(x) (exact GELU, Hendrycks & Gimpel 2016), in place
    """GELU(x) = max(x, 0) - |x|·Φ(-|x|), chunk by chunk so the scratch stays in cache."""
    flat = x.reshape(-1)  # a view when x is contiguous (as in the forward pass); else a copy, written back below
    m = min(CHUNK, flat.size)
    a, t, u = (np.empty(m, np.float32) for _ in range(3))
    for start in range(0, flat.size, m):
        c = flat[start : start + m]
        k = c.size
        np.abs(c, out=a[:k])
        half_erfc(a[:k], t[:k], u[:k])
        u[:k] *= a[:k]
        np.maximum(c, 0, out=c)
        c -= u[:k]
    if not np.shares_memory(flat, x):
        x[...] = flat.reshape(x.shape)
    return x


def gelu_new_(x):  # [...] -> the same array: GPT-2's tanh approximation of GELU, in place
    """0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))."""
    inner = x * x
    inner *= np.float32(0.044715)
    inner += 1
    inner *= x
    inner *= np.float32(np.sqrt(2 / np.pi))
    np.tanh(inner, out=inner)
    inner += 1
    x *= inner
    x *= np.float32(0.5)
    return x


def silu_(x):  # [...] -> the same array: x·σ(x) (the Llama family's SwiGLU gate), in place
    """x / (1 + e^-x); e^-x overflows to inf for x < -88, and x / inf = -0 is right."""
    e = np.negative(x)
    with np.errstate(over="ignore"):
        np.exp(e, out=e)
    e += 1
    x /= e
    return x


ACTIVATIONS = {"gelu": gelu_, "gelu_new": gelu_new_, "relu": lambda x: np.maximum(x, 0, out=x), "silu": silu_}


def layer_norm(x, gain, bias, eps):  # [n_seq, d_model] -> [n_seq, d_model] (Ba et al. 2016)
    """(x - mean) / √(var + eps) · gain + bias, per token."""
    centred = x - x.mean(axis=-1, keepdims=True)
    var = np.mean(centred * centred, axis=-1, keepdims=True)
    centred *= 1 / np.sqrt(var + np.float32(eps))
    centred *= gain
    centred += bias
    return centred


def rms_norm(x, gain, eps):  # [..., d] -> [..., d] (Zhang & Sennrich 2019): x / rms(x) · gain, no centring
    return x * (1 / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + np.float32(eps))) * gain


def rms(x, eps):  # [..., d] -> [..., 1]: the root mean square RMSNorm divides by (for the /steps walk-through)
    return np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + np.float32(eps))


def linear(x, w, b):  # [rows, n_in], [n_out, n_in], [n_out] -> [rows, n_out]
    y = x @ w.T
    y += b
    return y


def attend(q, k, v, mask, temperature, similarity, weights, context, parallel=False):  # fills weights, context
    """weights [n_head, n_seq, n_seq] = softmax(QKᵀ/√d_head), context [n_head, n_seq, d_head] = weights·V.
    parallel: one head at a time (its n_seq² scores stay in cache), heads split across threads."""
    n_head = q.shape[0]
    step = 1 if parallel else n_head

    def heads(h0, h1):  # heads h0:h1
        for h in range(h0, h1, step):
            s = slice(h, min(h + step, h1))
            attention_weights(q[s], k[s], mask, temperature, similarity, out=weights[s])
            np.matmul(weights[s], v[s], out=context[s])

    spread(heads, n_head, parallel)


def rope_inv_freq(d_head, theta, scaling=()):  # -> [d_head/2] float32: each pair's angle per position
    """inv_freq_i = theta^(-2i/d_head) (Su et al. 2021), in float32 as transformers computes it. scaling: llama3's
    (key, value) pairs: long wavelengths slowed by `factor`, short ones kept, the band between blended."""
    inv = (1.0 / theta ** (np.arange(0, d_head, 2).astype(np.float32) / np.float32(d_head))).astype(np.float32)
    if not scaling:
        return inv
    s = dict(scaling)
    factor, low, high = s["factor"], s["low_freq_factor"], s["high_freq_factor"]
    old = s["original_max_position_embeddings"]
    wavelen = 2 * np.pi / inv
    slow = np.where(wavelen > old / low, inv / factor, inv)
    smooth = (old / wavelen - low) / (high - low)
    blended = (1 - smooth) * slow / factor + smooth * slow
    medium = ~(wavelen < old / high) & ~(wavelen > old / low)
    return np.where(medium, blended, slow).astype(np.float32)


def rope_angles(positions, inv_freq):  # [n_seq] int, [d_head/2] -> (cos, sin) [n_seq, d_head/2] float32
    angles = positions.astype(np.float32)[:, None] * inv_freq[None, :]
    return np.cos(angles), np.sin(angles)


def rotate(x, cos, sin):  # [..., n_seq, d_head], [n_seq, d_head/2] x2 -> [..., n_seq, d_head]: RoPE
    """Pair (x_i, x_{i + d_head/2}) turns by the angle position·inv_freq_i, so q_m·k_n depends on m - n only."""
    h = x.shape[-1] // 2
    x1, x2 = x[..., :h], x[..., h:]
    return np.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)


def unrotate(x, positions, inv_freq):  # [..., n_seq, d_head] after RoPE -> the same vectors before it
    """The inverse rotation (the same angles, backwards): Run.queries/keys are rotated; this gives q, k before RoPE."""
    cos, sin = rope_angles(np.asarray(positions), inv_freq)
    return rotate(x, cos, -sin)


def split_qkv(y, n_head, n_kv_head, d_head):  # [rows, (n_head + 2·n_kv_head)·d_head] -> q, k, v
    """One fused projection cut into q [n_head, rows, d_head], k and v [n_kv_head, rows, d_head] (views)."""
    rows, a, b = y.shape[0], n_head * d_head, (n_head + n_kv_head) * d_head
    q = y[:, :a].reshape(rows, n_head, d_head).transpose(1, 0, 2)
    k = y[:, a:b].reshape(rows, n_kv_head, d_head).transpose(1, 0, 2)
    v = y[:, b:].reshape(rows, n_kv_head, d_head).transpose(1, 0, 2)
    return q, k, v

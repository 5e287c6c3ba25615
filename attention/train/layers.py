"""GPT-2's layers as llm.c-style pairs: `*_forward` returns the output and a cache holding only what
`*_backward` needs; `*_backward` takes the output's gradient and returns the inputs' and parameters' gradients.

Shapes: n_batch sequences of n_seq tokens, d_model wide, n_head heads of d_head; n_vocab words.
Everything is float32; linear weights use GPT-2's Conv1D layout [n_in, n_out] (y = x @ w + b).
"""

import numpy as np

GELU_C = np.float32(np.sqrt(2 / np.pi))
GELU_K = np.float32(0.044715)


def embedding_forward(
    ids, wte, wpe
):  # [n_batch, n_seq] int, [n_vocab, d_model], [n_pos, d_model] -> [n_batch, n_seq, d_model]
    """x = token embedding + learned position embedding."""
    return wte[ids] + wpe[: ids.shape[1]]


def embedding_backward(
    dx, ids, n_vocab, n_pos
):  # [n_batch, n_seq, d_model] -> dwte [n_vocab, d_model], dwpe [n_pos, d_model]
    d_model = dx.shape[-1]
    dwte = np.zeros((n_vocab, d_model), np.float32)
    np.add.at(dwte, ids.reshape(-1), dx.reshape(-1, d_model))  # a word used twice gets both gradients
    dwpe = np.zeros((n_pos, d_model), np.float32)
    dwpe[: ids.shape[1]] = dx.sum(axis=0)
    return dwte, dwpe


def layernorm_forward(x, w, b, eps=1e-5):  # [..., d_model], [d_model], [d_model] -> [..., d_model], cache
    """(x - mean) / √(var + eps) · w + b per token (Ba et al. 2016)."""
    centred = x - x.mean(axis=-1, keepdims=True)
    rstd = 1 / np.sqrt((centred * centred).mean(axis=-1, keepdims=True) + np.float32(eps))
    xhat = centred * rstd
    return xhat * w + b, (xhat, rstd, w)


def layernorm_backward(dout, cache):  # [..., d_model] -> dx [..., d_model], dw [d_model], db [d_model]
    """dx = rstd · (g - mean(g) - x̂ · mean(g · x̂)) with g = dout · w."""
    xhat, rstd, w = cache
    flat = dout.reshape(-1, dout.shape[-1])
    dw = np.einsum("nd,nd->d", flat, xhat.reshape(flat.shape))
    db = flat.sum(axis=0)
    g = dout * w
    dx = g - g.mean(axis=-1, keepdims=True)
    dx -= xhat * (g * xhat).mean(axis=-1, keepdims=True)
    dx *= rstd
    return dx, dw, db


def linear_forward(x, w, b):  # [..., n_in], [n_in, n_out], [n_out] -> [..., n_out], cache
    y = x @ w
    y += b
    return y, (x, w)


def linear_backward(dout, cache):  # [..., n_out] -> dx [..., n_in], dw [n_in, n_out], db [n_out]
    x, w = cache
    flat = dout.reshape(-1, dout.shape[-1])
    return dout @ w.T, x.reshape(-1, x.shape[-1]).T @ flat, flat.sum(axis=0)


def causal_bias(n_seq):  # -> [n_seq, n_seq] float32: 0 where a query may see a key (itself and earlier), -inf after
    return np.triu(np.full((n_seq, n_seq), -np.inf, np.float32), k=1)


def softmax(scores):  # [..., n_key] -> [..., n_key], rows sum to 1
    e = np.exp(scores - scores.max(axis=-1, keepdims=True))
    e /= e.sum(axis=-1, keepdims=True)
    return e


def split_qkv(qkv, n_head):  # [n_batch, n_seq, 3·d_model] -> 3 × [n_batch, n_head, n_seq, d_head]
    n_batch, n_seq, d3 = qkv.shape
    return qkv.reshape(n_batch, n_seq, 3, n_head, d3 // (3 * n_head)).transpose(2, 0, 3, 1, 4)


def attention_forward(qkv, n_head, scale=True):  # [n_batch, n_seq, 3·d_model] -> [n_batch, n_seq, d_model], cache
    """Causal multi-head attention: softmax(QKᵀ/√d_head + mask) V per head, heads side by side."""
    q, k, v = split_qkv(qkv, n_head)
    n_batch, _, n_seq, d_head = q.shape
    s = np.float32(1 / np.sqrt(d_head) if scale else 1.0)
    scores = q @ k.swapaxes(-1, -2)  # [n_batch, n_head, n_seq, n_seq]
    scores *= s
    scores += causal_bias(n_seq)
    weights = softmax(scores)
    out = (weights @ v).transpose(0, 2, 1, 3).reshape(n_batch, n_seq, n_head * d_head)
    return out, (q, k, v, weights, s)


def attention_backward(dout, cache, probe=None):  # [n_batch, n_seq, d_model] -> dqkv [n_batch, n_seq, 3·d_model]
    """Through weights·V, the softmax (dS = W ⊙ (dW - Σ dW ⊙ W)), the scale and QKᵀ; masked weights are 0.
    probe: a list that gets ‖dS‖, the gradient the softmax passes back to its input S (the scaled scores)."""
    q, k, v, weights, s = cache
    n_batch, n_head, n_seq, d_head = q.shape
    dy = dout.reshape(n_batch, n_seq, n_head, d_head).transpose(0, 2, 1, 3)  # [n_batch, n_head, n_seq, d_head]
    dv = weights.swapaxes(-1, -2) @ dy
    dw = dy @ v.swapaxes(-1, -2)  # [n_batch, n_head, n_seq, n_seq]
    dw -= (dw * weights).sum(axis=-1, keepdims=True)
    dw *= weights
    if probe is not None:
        probe.append(float(np.linalg.norm(dw)))
    dw *= s
    dq = dw @ k
    dk = dw.swapaxes(-1, -2) @ q
    dqkv = np.stack([dq, dk, dv])  # [3, n_batch, n_head, n_seq, d_head]
    return dqkv.transpose(1, 3, 0, 2, 4).reshape(n_batch, n_seq, 3 * n_head * d_head)


def gelu_forward(x):  # [...] -> [...], cache: GPT-2's tanh GELU, 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³)))
    t = np.tanh(GELU_C * (x + GELU_K * x * x * x))
    return 0.5 * x * (1 + t), (x, t)


def gelu_backward(dout, cache):  # [...] -> [...]
    """d/dx = 0.5(1 + t) + 0.5·x·(1 - t²)·√(2/π)(1 + 3·0.044715x²)."""
    x, t = cache
    dx = 0.5 * x * (1 - t * t) * GELU_C * (1 + 3 * GELU_K * x * x)
    dx += 0.5 * (1 + t)
    dx *= dout
    return dx


def mlp_forward(x, fc_w, fc_b, proj_w, proj_b):  # [..., d_model] -> [..., d_model], cache: proj(GELU(fc(x)))
    h, fc_cache = linear_forward(x, fc_w, fc_b)
    a, gelu_cache = gelu_forward(h)
    y, proj_cache = linear_forward(a, proj_w, proj_b)
    return y, (fc_cache, gelu_cache, proj_cache)


def mlp_backward(dout, cache):  # [..., d_model] -> dx, dfc_w, dfc_b, dproj_w, dproj_b
    fc_cache, gelu_cache, proj_cache = cache
    da, dproj_w, dproj_b = linear_backward(dout, proj_cache)
    dx, dfc_w, dfc_b = linear_backward(gelu_backward(da, gelu_cache), fc_cache)
    return dx, dfc_w, dfc_b, dproj_w, dproj_b


def head_forward(x, wte):  # [n_batch, n_seq, d_model], [n_vocab, d_model] -> logits [n_batch, n_seq, n_vocab]
    """The tied output head: logits = x · wteᵀ (the input embedding read backwards)."""
    return x @ wte.T


def head_backward(dlogits, x, wte):  # [n_batch, n_seq, n_vocab] -> dx [..., d_model], dwte [n_vocab, d_model]
    flat = dlogits.reshape(-1, dlogits.shape[-1])
    return dlogits @ wte, flat.T @ x.reshape(-1, x.shape[-1])


def cross_entropy_forward(logits, targets):  # [n_batch, n_seq, n_vocab], [n_batch, n_seq] int -> loss, cache
    """Mean over tokens of -log softmax(logits)[target]."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_z = np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    log_probs = shifted - log_z
    picked = np.take_along_axis(log_probs, targets[..., None], axis=-1)
    return float(-picked.mean()), (log_probs, targets)


def cross_entropy_backward(cache):  # -> dlogits [n_batch, n_seq, n_vocab] = (softmax - onehot) / n_tokens
    log_probs, targets = cache
    dlogits = np.exp(log_probs)
    np.put_along_axis(dlogits, targets[..., None], np.take_along_axis(dlogits, targets[..., None], -1) - 1, -1)
    dlogits /= np.float32(targets.size)
    return dlogits

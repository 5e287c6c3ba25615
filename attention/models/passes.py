"""The forward pass of every real model, one driver for all families (encoders, gpt2, llama).

Each family module gives embed, attn_input, qkv_rows, after_attention, final_norm, logits; this file runs them
layer by layer with core's attention, on our threads for long inputs. Grouped-query keys and values are repeated
to n_head here, so every page sees one key and value per query head.

Incremental decoding (issue 19): `step(ckpt, ids_new, cache, offset)` runs only new tokens at positions
offset.. against cache = [(k, v) per layer], k and v [n_kv_head, n_past, d_head] (after RoPE), and returns the
final-normed hidden states of the new rows and the extended cache. Decoders only (GPT-2, the Llama family).
"""

import numpy as np

from ..core import attention_weights, causal_mask, merge_heads
from . import blocks
from .blocks import BLAS_LOCK, attend, blas_on_one_thread, linear, spread
from .families import family


def project(a, z, fam, x, layer, c, w, positions, qkv, inputs):  # tokens a:z -> qkv [3, n_head, n_seq, d_head]
    """Q, K, V of a block of tokens; keys and values repeated per query head (GQA); inputs [n_seq, d_model] keeps
    what the projections read (after any pre-norm), when given."""
    x_in = fam.attn_input(x[a:z], layer, c)
    if inputs is not None:
        inputs[a:z] = x_in
    q, k, v = fam.qkv_rows(x_in, layer, c, positions[a:z], w)
    group = c.n_head // c.n_kv_head
    qkv[0, :, a:z] = q
    qkv[1, :, a:z] = np.repeat(k, group, axis=0) if group > 1 else k
    qkv[2, :, a:z] = np.repeat(v, group, axis=0) if group > 1 else v


def rest(a, z, fam, x, context, layer, c, attn_out, out):  # tokens a:z, after attention
    """attn_out [n_seq, d_model] = W_o·(heads side by side), out = the layer's output, in rows a:z."""
    attn_out[a:z] = linear(merge_heads(context[:, a:z]), *layer["o"])
    out[a:z] = fam.after_attention(x[a:z], attn_out[a:z], layer, c)


def forward(ckpt, ids, type_ids=None, temperature=1.0, similarity="dot", head_mask=None, keep_inputs=False):
    """Run the checkpoint on token ids [n_seq] -> dict of arrays: queries, keys, values, weights, attn_out, hidden,
    mask (and inputs [n_layer, n_seq, d_model] with keep_inputs). head_mask [n_layer, n_head]: 0 zeroes a head's
    slice of the concatenation before W_o (the layers above see the change). From PARALLEL_FROM tokens the work
    is split over our threads, one pass at a time, BLAS on one thread."""
    ids = np.asarray(ids)
    type_ids = np.zeros_like(ids) if type_ids is None else np.asarray(type_ids)
    args = (ckpt, ids, type_ids, temperature, similarity, head_mask, keep_inputs)
    if blocks.POOL is None or len(ids) < blocks.PARALLEL_FROM:
        return layers(*args, parallel=False)
    with BLAS_LOCK, blas_on_one_thread():  # one pass at a time, so each restores the limit it found
        return layers(*args, parallel=True)


def layers(ckpt, ids, type_ids, temperature, similarity, head_mask, keep_inputs, parallel):  # the pass itself
    """Outside attention every token is computed alone, so the threads take blocks of tokens; attention needs
    every key, so there they take heads."""
    c, w, fam = ckpt.config, ckpt.weights, family(ckpt.config.arch)
    n_seq, d_head = len(ids), c.d_head
    positions = np.arange(n_seq)
    mask = causal_mask(n_seq) if c.causal else None
    qkv_all = np.empty((c.n_layer, 3, c.n_head, n_seq, d_head), np.float32)  # queries, keys, values of every layer
    weights = np.empty((c.n_layer, c.n_head, n_seq, n_seq), np.float32)
    attn_out = np.empty((c.n_layer, n_seq, c.d_model), np.float32)
    hidden = np.empty((c.n_layer + 1, n_seq, c.d_model), np.float32)
    context = np.empty((c.n_head, n_seq, d_head), np.float32)
    inputs = np.empty((c.n_layer, n_seq, c.d_model), np.float32) if keep_inputs else None
    hidden[0] = fam.embed(ids, type_ids, w, c, positions)
    for i, layer in enumerate(w["layers"]):
        spread(
            project,
            n_seq,
            parallel,
            fam,
            hidden[i],
            layer,
            c,
            w,
            positions,
            qkv_all[i],
            None if inputs is None else inputs[i],
        )
        attend(*qkv_all[i], mask, temperature, similarity, weights[i], context, parallel)
        if head_mask is not None:
            context *= np.asarray(head_mask[i], np.float32)[:, None, None]
        spread(rest, n_seq, parallel, fam, hidden[i], context, layer, c, attn_out[i], hidden[i + 1])
    hidden[-1] = fam.final_norm(hidden[-1], w, c)  # transformers reports the decoders' last state after the norm
    q, k, v = qkv_all.transpose(1, 0, 2, 3, 4)
    out = dict(queries=q, keys=k, values=v, weights=weights, attn_out=attn_out, hidden=hidden, mask=mask)
    return out | ({"inputs": inputs} if keep_inputs else {})


def step(ckpt, ids_new, cache=None, offset=0, return_weights=False):  # [n_new] int -> (hidden, cache[, weights])
    """Run new tokens at positions offset.. against cached keys/values: cache[i] = (k, v), each
    [n_kv_head, n_past, d_head] (k after RoPE), or None to start. Row r sees the past and new rows 0..r.
    Returns the final-normed hidden [n_new, d_model], the cache, and with return_weights the new rows' attention
    weights [n_layer, n_head, n_new, n_past + n_new]."""
    c, w, fam = ckpt.config, ckpt.weights, family(ckpt.config.arch)
    if not c.causal:
        raise ValueError(f"{c.arch} is an encoder: every token sees every other, so there is no incremental pass")
    ids_new = np.asarray(ids_new)
    positions = offset + np.arange(len(ids_new))
    x = fam.embed(ids_new, None, w, c, positions)
    group, new_cache, rows = c.n_head // c.n_kv_head, [], []
    for i, layer in enumerate(w["layers"]):
        q, k, v = fam.qkv_rows(fam.attn_input(x, layer, c), layer, c, positions, w)
        if cache is not None:
            k, v = np.concatenate([cache[i][0], k], axis=1), np.concatenate([cache[i][1], v], axis=1)
        new_cache.append((np.ascontiguousarray(k), np.ascontiguousarray(v)))
        mask = np.arange(k.shape[1])[None, :] <= positions[:, None]  # [n_new, n_past + n_new]
        weights = attention_weights(q, np.repeat(k, group, axis=0), mask)
        rows.append(weights)
        attn = linear(merge_heads(weights @ np.repeat(v, group, axis=0)), *layer["o"])
        x = fam.after_attention(x, attn, layer, c)
    hidden = fam.final_norm(x, w, c)
    return (hidden, new_cache, np.stack(rows).astype(np.float32, copy=False)) if return_weights else (hidden, new_cache)


def layer_trace(ckpt, ids, layer, type_ids=None):  # -> {step: array}: one layer's norms and MLP, real numbers
    """The /steps walk-through of layer `layer` on token ids [n_seq]: input, norms (Llama: rms1/rms2 [n_seq], the
    divisors), attn_out, mid (after the attention residual), MLP steps (Llama: gate, up, act = silu(gate),
    product = act·up, down; others: ff_in, act, ff_out), output = the next layer's input. Arrays [n_seq, ·]."""
    c = ckpt.config
    if not 0 <= layer < c.n_layer:
        raise ValueError(f"layer must be in 0..{c.n_layer - 1} (got {layer})")
    out = forward(ckpt, ids, type_ids)
    x, attn = out["hidden"][layer], out["attn_out"][layer]  # the layer's input (never the final-normed hidden[-1])
    return family(c.arch).trace(x, attn, ckpt.weights["layers"][layer], c)


def value_out(
    ckpt, layer
):  # -> (W_v [n_kv_head, d_head, d_model], b_v [n_kv_head, d_head], W_o [d_model, n_head, d_head], b_o [d_model])
    """Layer `layer`'s value and output projections in one canonical form for every family: head h's value is
    W_v[h // (n_head // n_kv_head)] @ input + b_v[...], and its output W_o[:, h] @ context_h."""
    c, lw = ckpt.config, ckpt.weights["layers"][layer]
    w_qkv, b_qkv = lw["qkv"]
    start = (c.n_head + c.n_kv_head) * c.d_head
    w_v = w_qkv[start:].reshape(c.n_kv_head, c.d_head, c.d_model)
    b_v = b_qkv[start:].reshape(c.n_kv_head, c.d_head)
    w_o, b_o = lw["o"]
    return w_v, b_v, w_o.reshape(c.d_model, c.n_head, c.d_head), b_o


def kv_heads(config):  # -> [n_head] int: the key/value head each query head reads
    return np.arange(config.n_head) // (config.n_head // config.n_kv_head)

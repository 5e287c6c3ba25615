"""Real checkpoints' forward passes in numpy: BERT (and MiniLM), DistilBERT, RoBERTa (post-LN encoders) and
GPT-2 (a pre-LN causal decoder). The attention itself is core.attention_weights, the lecture model's math.

Byte-level BPE tokens (GPT-2, RoBERTa) are shown as text, with a leading space as "␣" ("Ġcat" -> "␣cat")
and a newline as "↵"; WordPiece continuations keep their "##".
"""

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .checkpoint import Checkpoint
from .core import SIMILARITIES, attention_weights, causal_mask, check_temperature, merge_heads
from .run import Run

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


ACTIVATIONS = {"gelu": gelu_, "gelu_new": gelu_new_, "relu": lambda x: np.maximum(x, 0, out=x)}


def layer_norm(x, gain, bias, eps):  # [n_seq, d_model] -> [n_seq, d_model] (Ba et al. 2016)
    """(x - mean) / √(var + eps) · gain + bias, per token."""
    centred = x - x.mean(axis=-1, keepdims=True)
    var = np.mean(centred * centred, axis=-1, keepdims=True)
    centred *= 1 / np.sqrt(var + np.float32(eps))
    centred *= gain
    centred += bias
    return centred


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


def project_qkv(a, z, x, layer, config, qkv):  # tokens a:z of x [n_seq, d_model] -> qkv [3, n_head, n_seq, d_head]
    """Q, K and V of a block of tokens in one matmul (GPT-2 normalises first)."""
    x = layer_norm(x[a:z], *layer["ln1"], config.eps) if config.causal else x[a:z]
    y = linear(x, *layer["qkv"])  # [rows, 3·d_model]
    n_head = config.n_head
    qkv[:, :, a:z] = y.reshape(z - a, 3, n_head, config.d_model // n_head).transpose(1, 2, 0, 3)


def feed_forward(x, layer, act):  # [rows, d_model] -> [rows, d_model]: W_out·act(W_in·x)
    return linear(act(linear(x, *layer["ff_in"])), *layer["ff_out"])


def block_rest(a, z, x, context, layer, act, config, attn_out, out):  # tokens a:z, after attention
    """x [n_seq, d_model], context [n_head, n_seq, d_head] -> attn_out [n_seq, d_model] (W_o·heads) and out, the
    layer's output [n_seq, d_model], in rows a:z. Each token is independent here, so any block of rows can go alone."""
    x, attn_out, out = x[a:z], attn_out[a:z], out[a:z]
    attn_out[...] = linear(merge_heads(context[:, a:z]), *layer["o"])  # heads side by side, then W_o
    if config.causal:  # pre-LN: x + Attn(LN(x)), then x + MLP(LN(x))
        x = x + attn_out
        out[...] = x + feed_forward(layer_norm(x, *layer["ln2"], config.eps), layer, act)
    else:  # post-LN: LN(x + Attn(x)), then LN(x + FFN(x))
        x = layer_norm(x + attn_out, *layer["ln1"], config.eps)
        out[...] = layer_norm(x + feed_forward(x, layer, act), *layer["ln2"], config.eps)


def embed(ids, type_ids, weights, config):  # [n_seq] int -> [n_seq, d_model]
    """Token + position (+ segment) embeddings; the encoders then apply a LayerNorm."""
    positions = np.arange(len(ids)) + config.pos_offset  # RoBERTa counts from padding_idx + 1
    x = weights["word"][ids] + weights["position"][positions]
    if "type" in weights:
        x += weights["type"][type_ids]
    return layer_norm(x, *weights["emb_ln"], config.eps) if "emb_ln" in weights else x


def forward(ckpt, ids, type_ids=None, temperature=1.0, similarity="dot"):  # [n_seq] int -> dict of arrays
    """Run the checkpoint on token ids, keeping Q, K, V, weights, attention outputs and hidden states per layer.
    From PARALLEL_FROM tokens the work is split over our threads, one pass at a time, BLAS on one thread."""
    ids = np.asarray(ids)
    type_ids = np.zeros_like(ids) if type_ids is None else np.asarray(type_ids)
    if POOL is None or len(ids) < PARALLEL_FROM:
        return layers(ckpt, ids, type_ids, temperature, similarity, parallel=False)
    with BLAS_LOCK, blas_on_one_thread():  # one pass at a time, so each restores the limit it found
        return layers(ckpt, ids, type_ids, temperature, similarity, parallel=True)


def layers(ckpt, ids, type_ids, temperature, similarity, parallel):  # the forward pass itself
    """Outside attention every token is computed alone, so the threads take blocks of tokens; attention needs
    every key, so there they take heads."""
    c, w = ckpt.config, ckpt.weights
    n_seq, d_head = len(ids), c.d_model // c.n_head
    mask = causal_mask(n_seq) if c.causal else None
    act = ACTIVATIONS[c.act]
    qkv_all = np.empty((c.n_layer, 3, c.n_head, n_seq, d_head), np.float32)  # queries, keys, values of every layer
    weights = np.empty((c.n_layer, c.n_head, n_seq, n_seq), np.float32)
    attn_out = np.empty((c.n_layer, n_seq, c.d_model), np.float32)
    hidden = np.empty((c.n_layer + 1, n_seq, c.d_model), np.float32)
    context = np.empty((c.n_head, n_seq, d_head), np.float32)
    hidden[0] = embed(ids, type_ids, w, c)
    for i, layer in enumerate(w["layers"]):
        spread(project_qkv, n_seq, parallel, hidden[i], layer, c, qkv_all[i])
        attend(*qkv_all[i], mask, temperature, similarity, weights[i], context, parallel)
        spread(block_rest, n_seq, parallel, hidden[i], context, layer, act, c, attn_out[i], hidden[i + 1])
    if "final_ln" in w:  # GPT-2's last hidden state is taken after ln_f, as transformers reports it
        hidden[-1] = layer_norm(hidden[-1], *w["final_ln"], c.eps)
    q, k, v = qkv_all.transpose(1, 0, 2, 3, 4)
    return dict(queries=q, keys=k, values=v, weights=weights, attn_out=attn_out, hidden=hidden, mask=mask)


def byte_decoder():  # -> {char: byte}: the inverse of GPT-2's printable stand-ins for raw bytes ("Ġ" = space)
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    others = [b for b in range(256) if b not in printable]
    return {chr(b): b for b in printable} | {chr(256 + n): b for n, b in enumerate(others)}


BYTE_DECODER = byte_decoder()


def readable(token):  # byte-level BPE piece -> text: "Ġcat" -> "␣cat", "Ċ" -> "↵"; broken UTF-8 as \xNN
    if any(ch not in BYTE_DECODER for ch in token):
        return token  # an added token such as <s> or <|endoftext|>
    text = bytes(BYTE_DECODER[ch] for ch in token).decode("utf-8", errors="backslashreplace")
    return text.replace(" ", "␣").replace("\n", "↵")


def encode(ckpt, text, max_tokens=None):  # -> (ids [n_seq], type_ids [n_seq], tokens, special [n_seq] bool, notices)
    """Tokenise as the model does, keeping at most the model's positions (or max_tokens), and say if text was cut."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("text is empty; type a sentence, e.g. 'The bank of the river'")
    tok, limit, notices = ckpt.tokenizer, ckpt.config.n_max, []
    n_add = tok.num_special_tokens_to_add(False)  # [CLS] … [SEP], <s> … </s>, or none for GPT-2
    if max_tokens is not None:
        if not isinstance(max_tokens, (int, np.integer)) or max_tokens < n_add + 1:
            raise ValueError(f"max_tokens must be an integer >= {n_add + 1} (got {max_tokens!r}); try 64-512")
        limit = min(int(max_tokens), limit)
    enc = tok.encode(text, add_special_tokens=False)
    n_total = len(enc.ids) + n_add
    if n_total > limit:
        enc.truncate(limit - n_add)
        why = f"the model reads at most {limit}" if limit == ckpt.config.n_max else f"max_tokens is {limit}"
        notices.append(f"Input was {n_total} tokens; {why}, so it was truncated to the first {limit}.")
    enc = tok.post_process(enc)
    if not enc.ids:
        raise ValueError("the text gave no tokens; type a sentence with words in it")
    special = np.array(enc.special_tokens_mask, dtype=bool)
    byte_level = type(tok.decoder).__name__ == "ByteLevel"
    tokens = [readable(t) if byte_level and not s else t for t, s in zip(enc.tokens, special, strict=True)]
    return np.array(enc.ids), np.array(enc.type_ids), tokens, special, notices


def hide(run, keep):  # Run, [n_seq] bool -> Run without the dropped tokens, rows renormalised
    """Drop special tokens' rows and columns. Renormalising equals a softmax over the kept keys only, so
    stages() recomputed from the kept Q and K gives the same weights."""
    w = run.weights[:, :, keep][..., keep]
    total = w.sum(axis=-1, keepdims=True)
    np.divide(w, total, out=w, where=total > 0)
    dropped = [t for t, k in zip(run.tokens, keep, strict=True) if not k]
    run.notices.append(
        f"Special tokens {', '.join(dict.fromkeys(dropped))} are hidden: their rows and columns were removed and "
        "each row renormalised to sum to 1. The model itself still saw them."
    )
    return Run(
        run.model,
        [t for t, k in zip(run.tokens, keep, strict=True) if k],
        *(a[..., keep, :] for a in (run.queries, run.keys, run.values)),
        weights=w,
        hidden=run.hidden[:, keep],
        attn_out=run.attn_out[:, keep],
        mask=None if run.mask is None else run.mask[keep][:, keep],
        temperature=run.temperature,
        similarity=run.similarity,
        special=run.special[keep],
        notices=run.notices,
    )


def run_checkpoint(ckpt: Checkpoint, text, temperature=1.0, similarity="dot", hide_special=False, max_tokens=None):
    """One sentence through a real checkpoint -> Run. temperature != 1 or cosine similarity is a what-if that
    changes every later layer too; with the defaults the weights are the model's own."""
    temperature = check_temperature(temperature)
    if similarity not in SIMILARITIES:
        raise ValueError(f"similarity must be one of {SIMILARITIES} (got {similarity!r})")
    ids, type_ids, tokens, special, notices = encode(ckpt, text, max_tokens)
    out = forward(ckpt, ids, type_ids, temperature, similarity)
    changed = [f"temperature {temperature:g}"] * (temperature != 1.0) + ["cosine similarity"] * (similarity != "dot")
    if changed:
        notices.append(
            f"What-if: {ckpt.name} was trained with dot-product scores at temperature 1. With {' and '.join(changed)} "
            "every layer's weights change, and so does each later layer: these are not the model's real weights."
        )
    run = Run(
        ckpt.name, tokens, **out, temperature=temperature, similarity=similarity, special=special, notices=notices
    )
    if hide_special and special.any():
        if special.all():
            raise ValueError("every token is a special token; turn off 'hide special tokens' or type a sentence")
        run = hide(run, ~special)
    return run

"""One sentence through a real checkpoint -> Run: tokenise as the model does, run the forward pass, predict.

Byte-level BPE tokens (GPT-2, RoBERTa, SmolLM2, Qwen) are shown as text, with a leading space as "␣"
("Ġcat" -> "␣cat") and a newline as "↵"; WordPiece continuations keep their "##".
"""

import numpy as np

from ..core import SIMILARITIES, check_temperature
from ..run import Predictions, Run
from .families import family
from .loading import Checkpoint
from .passes import forward, kv_heads

TOP = 20  # predictions kept per position
CHUNK_FLOATS = 1 << 22  # logits per chunk (16 MB): Qwen's 151,936-wide rows never all sit in memory at once
MASKS = ("[MASK]", "<mask>")


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
        predictions=None if run.predictions is None else run.predictions.take(keep),
        predictions_note=run.predictions_note,
        kv_heads=run.kv_heads,
        rope=run.rope,
        positions=run.positions[keep],
    )


def token_text(tokenizer):  # -> function id -> readable token string, as encode shows tokens
    byte_level = type(tokenizer.decoder).__name__ == "ByteLevel"
    return lambda i: (readable if byte_level else str)(tokenizer.id_to_token(int(i)) or f"<{int(i)}>")


def predict(ckpt, last, ids, full_logits=False):  # last hidden [n_seq, d_model], ids [n_seq] -> Predictions | None
    """Top-20 ids, tokens and probabilities and the entropy (nats) at every position, from the full-vocabulary
    softmax computed a chunk of positions at a time. Decoders predict the next token; MLM encoders each [MASK]."""
    c, w = ckpt.config, ckpt.weights
    fam = family(c.arch)
    if not fam.has_head(w):
        return None
    n_seq, vocab = len(last), w["lm_head" if c.causal else "word"].shape[0]
    rows = max(1, CHUNK_FLOATS // vocab)
    top_ids, top_probs = np.empty((n_seq, TOP), np.int64), np.empty((n_seq, TOP), np.float32)
    entropy = np.empty(n_seq, np.float32)
    kept = np.empty((n_seq, vocab), np.float32) if full_logits else None
    for a in range(0, n_seq, rows):
        z = fam.logits(last[a : a + rows], w, c).astype(np.float32)  # [rows, vocab]
        if kept is not None:
            kept[a : a + rows] = z
        z -= z.max(axis=-1, keepdims=True)
        p = np.exp(z)
        total = p.sum(axis=-1, keepdims=True)
        p /= total
        entropy[a : a + rows] = np.log(total[:, 0]) - np.einsum("rv,rv->r", p, z)  # -Σ p log p, log p = z - log Σ
        k = min(TOP, vocab)
        best = np.argpartition(-p, k - 1, axis=-1)[:, :k]
        order = np.argsort(-np.take_along_axis(p, best, -1), axis=-1, kind="stable")
        top_ids[a : a + rows, :k] = np.take_along_axis(best, order, -1)
        top_probs[a : a + rows, :k] = np.take_along_axis(p, top_ids[a : a + rows, :k], -1)
    text = token_text(ckpt.tokenizer)
    mask_ids = {ckpt.tokenizer.token_to_id(m) for m in MASKS} - {None}
    return Predictions(
        kind="next" if c.causal else "mask",
        top_ids=top_ids,
        top_tokens=[[text(i) for i in row] for row in top_ids],
        top_probs=top_probs,
        entropy=entropy,
        mask_positions=np.flatnonzero(np.isin(ids, list(mask_ids))) if not c.causal else np.zeros(0, np.int64),
        logits=kept,
    )


def run_checkpoint(
    ckpt: Checkpoint, text, temperature=1.0, similarity="dot", hide_special=False, max_tokens=None, full_logits=False
):
    """One sentence through a real checkpoint -> Run. temperature != 1 or cosine similarity is a what-if that
    changes every later layer too; with the defaults the weights are the model's own. full_logits keeps
    Run.predictions.logits [n_seq, vocab]."""
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
    predictions = predict(ckpt, out["hidden"][-1], ids, full_logits)
    c = ckpt.config
    run = Run(
        ckpt.name, tokens, **out, temperature=temperature, similarity=similarity, special=special, notices=notices,
        predictions=predictions, predictions_note=None if predictions else NO_HEAD,
        kv_heads=kv_heads(c), rope=ckpt.weights.get("inv_freq"), positions=np.arange(len(ids)),
    )  # fmt: skip
    if hide_special and special.any():
        if special.all():
            raise ValueError("every token is a special token; turn off 'hide special tokens' or type a sentence")
        run = hide(run, ~special)
    return run


NO_HEAD = "This checkpoint has no output head (MiniLM was trained for sentence embeddings), so it predicts nothing."

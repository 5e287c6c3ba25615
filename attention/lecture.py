"""The lecture model: a hand-made, interpretable embedding table run through real attention, step by step.

Every word is a vector over named axes (food, technology, animal, ...) plus a positional encoding.
Each step is one multi-head attention with the same weights, and the context pull
hidden[s] = (1 − α)·hidden[s−1] + α·MultiHead(hidden[s−1]) moves each word toward its context.
"""

import hashlib
import re

import numpy as np

from . import presets
from .core import SIMILARITIES, causal_mask, check_temperature, multi_head_attention
from .flow import mask_heads
from .pull import context_pull
from .run import Run
from .vocab import AMBIGUOUS, AXES, D_MODEL, N_POS, SENSES, function_words, memberships, positional_encoding

AXIS_LABELS = [*AXES, *(f"pos {i}" for i in range(N_POS))]  # d_model labels, one per embedding dimension
# Length of a content word's vector. It sets how sharply attention picks related words: with Q = K = X and
# ÷√24, a word scores a same-topic word 25·cos/4.9 above an unrelated or function word (e^3.6 ≈ 37x at
# cos 0.7). At 3.0 it was only e^1.3 ≈ 3.7x, so function words (near the origin) and off-topic words took
# 16-41% of each row and dragged the pull arrow 20-70° off its sense (docs/PULL.md has the measurements).
WORD_NORM = 5.0
SMALL_NORM = 0.3  # function words, punctuation and numbers: present, but they barely pull or get pulled
UNKNOWN_NORM = 1.0  # a made-up vector for a word not in the table: it takes part without steering the topic
JITTER = 0.35  # a small fixed per-word offset so words of one axis don't sit on one point in the PCA view
MAX_STEPS = 8

# The settings that make the pull clearly visible; the dashboard uses them as its defaults.
DEFAULTS = dict(preset="identity", n_head=1, alpha=0.5, steps=1, temperature=1.0, similarity="dot")

_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)*|[^\w\s]|_")
_TABLE = memberships()
_FUNCTION = function_words()
_KNOWN = _TABLE.keys() | AMBIGUOUS.keys() | _FUNCTION


def tokenize(text):  # str -> list[str]
    """Lower-cased words (keeping contractions like "didn't" whole) and single punctuation marks."""
    return _TOKEN.findall(str(text).lower().replace("’", "'"))


def _hashed(word, norm):  # str, float -> [n_sem] float32
    """A fixed pseudo-random direction from the word's bytes (blake2b: the same in every process)."""
    digest = hashlib.blake2b(word.encode("utf-8"), digest_size=4 * len(AXES)).digest()
    v = np.frombuffer(digest, dtype="<u4").astype(np.float64) / 2**32 - 0.5
    return (norm * v / np.linalg.norm(v)).astype(np.float32)


def _axes_vector(weights):  # {axis: weight} -> [n_sem] float64, unit length
    v = np.zeros(len(AXES))
    for axis, w in weights.items():
        v[AXES.index(axis)] += w
    return v / np.linalg.norm(v)


def _between(a, b):  # two senses {axis: weight} -> {axis: weight}, halfway between their unit directions
    na, nb = (np.sqrt(sum(w * w for w in s.values())) for s in (a, b))
    out = {k: w / na for k, w in a.items()}
    for k, w in b.items():
        out[k] = out.get(k, 0.0) + w / nb
    return out


def lemma(word):  # str -> str: the table entry a word is read as (itself if nothing matches)
    """Undo regular inflections: bananas -> banana, released -> release, dog's -> dog."""
    if word in _KNOWN:
        return word
    stem = word[:-2] if word.endswith("'s") else word
    candidates = [stem]
    for suffix, repl in (("ies", "y"), ("es", ""), ("s", ""), ("ed", ""), ("ed", "e"), ("ing", ""), ("ing", "e")):
        if stem.endswith(suffix) and len(stem) > len(suffix) + 2:
            base = stem[: -len(suffix)] + repl
            candidates += [base, base[:-1]] if base[-1:] == base[-2:-1] else [base]  # stopped -> stop
    return next((c for c in candidates if c in _KNOWN), word)


def is_known(word):  # str -> bool
    """In the table (after undoing inflections), or punctuation / a number, which need no entry."""
    base = lemma(word)
    return base in _TABLE or base in AMBIGUOUS or base in _FUNCTION or not any(c.isalpha() for c in word)


def word_vector(word):  # str -> [d_model] float32, positional dims 0
    """The word's meaning: its axes (plus a small fixed offset), between two senses, tiny, or made up."""
    word = str(word).lower()
    base = lemma(word)
    v = np.zeros(D_MODEL, dtype=np.float32)
    if base in AMBIGUOUS:
        a, b = AMBIGUOUS[base]
        v[: len(AXES)] = WORD_NORM * _axes_vector(_between(SENSES[a], SENSES[b]))
    elif base in _TABLE:
        direction = WORD_NORM * _axes_vector(_TABLE[base]) + _hashed("jitter:" + base, JITTER)
        v[: len(AXES)] = WORD_NORM * direction / np.linalg.norm(direction)
    elif is_known(word):
        v[: len(AXES)] = _hashed(base, SMALL_NORM)
    else:
        v[: len(AXES)] = _hashed(word, UNKNOWN_NORM)
    return v


def embed(tokens):  # list[str] n_seq -> ([n_seq, d_model] float32, [n_seq] bool)
    """Word vectors plus the positional encoding, and which tokens were not in the vocabulary."""
    n_seq = len(tokens)
    x = np.zeros((n_seq, D_MODEL), dtype=np.float32)
    for i, t in enumerate(tokens):
        x[i] = word_vector(t)
    x[:, len(AXES) :] = positional_encoding(n_seq)
    unknown = np.array([not is_known(str(t).lower()) for t in tokens], dtype=bool)
    return x, unknown


def sense_direction(sense):  # str -> [d_model] float32, unit length
    """The direction of a sense ("fruit", "money", ...) or of an axis ("food"), positional dims 0."""
    if sense in SENSES:
        weights = SENSES[sense]
    elif sense in AXES:
        weights = {sense: 1.0}
    else:
        raise ValueError(f"unknown sense {sense!r}; choose one of {sorted(SENSES)} or an axis {list(AXES)}")
    v = np.zeros(D_MODEL, dtype=np.float32)
    v[: len(AXES)] = _axes_vector(weights)
    return v


def reference_words(per_axis=4, axes=None):  # int, [str] | None -> list[str]
    """A few typical words per axis (full members, listed first in the table) for the PCA background.

    axes: only these axes (e.g. the ones a sentence is about), in AXES order; None means all of them.
    """
    if isinstance(per_axis, bool) or not isinstance(per_axis, (int, np.integer)) or per_axis < 0:
        raise ValueError(f"per_axis must be a whole number >= 0 (got {per_axis!r}); try 3-6")
    wanted = AXES if axes is None else [a for a in AXES if a in set(axes)]
    if axes is not None and len(wanted) != len(set(axes)):
        raise ValueError(f"axes must be names from {list(AXES)} (got {sorted(set(axes) - set(AXES))})")
    words = []
    for axis in wanted:
        typical = [w for w, m in _TABLE.items() if m.get(axis) == 1.0 and len(m) == 1]
        words += typical[:per_axis]
    return words


def sentence_axes(x, top=3):  # [n_seq, d_model] -> list[str]: the axes a sentence is most about
    """The `top` semantic axes with the most weight in the (positive part of the) sentence's vectors."""
    strength = np.clip(np.asarray(x, dtype=np.float64)[:, : len(AXES)], 0, None).sum(axis=0)
    return [AXES[i] for i in np.argsort(-strength, kind="stable")[:top]]


def _check_fraction(name, value, low, high, hint):  # -> float
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = float("nan")
    if not (np.isfinite(v) and low <= v <= high):
        raise ValueError(f"{name} must be between {low} and {high} (got {value!r}); {hint}")
    return v


def _check_int(name, value, low, high, hint):  # -> int
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        raise ValueError(f"{name} must be a whole number from {low} to {high} (got {value!r}); {hint}")
    return int(value)


def check_weights(weights):  # dict -> dict of 4 [d_model, d_model] float32
    """Edited W_q, W_k, W_v, W_o: the right keys, shapes and only finite numbers."""
    if not isinstance(weights, dict) or set(weights) != set(presets.WEIGHT_NAMES):
        got = sorted(weights) if isinstance(weights, dict) else type(weights).__name__
        raise ValueError(f"weights must be a dict with keys {list(presets.WEIGHT_NAMES)} (got {got})")
    out = {}
    for name in presets.WEIGHT_NAMES:
        try:
            w = np.asarray(weights[name], dtype=np.float32)
        except (TypeError, ValueError):
            raise ValueError(
                f"weights[{name!r}] must hold numbers only; retype the cells that are not numbers"
            ) from None
        if w.shape != (D_MODEL, D_MODEL):
            raise ValueError(f"weights[{name!r}] must be [{D_MODEL}, {D_MODEL}] (got {list(w.shape)})")
        bad = np.argwhere(~np.isfinite(w))
        if bad.size:
            r, c = bad[0]
            raise ValueError(f"weights[{name!r}] has NaN or inf at row {r}, column {c}; type a finite number there")
        out[name] = w
    return out


def run_lecture(
    text,
    n_head=1,
    preset="identity",
    alpha=DEFAULTS["alpha"],
    steps=DEFAULTS["steps"],
    temperature=1.0,
    causal=False,
    similarity="dot",
    weights=None,
    max_tokens=512,
    seed=0,
    head_mask=None,
):  # -> Run with n_layer = steps
    """Embed `text`, then `steps` times: multi-head attention and the context pull with strength alpha.
    head_mask [steps, n_head]: 0 switches a head off (its slice of the concatenation before W_o), 1 keeps it."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("type a sentence first: the text is empty (try 'I ate an apple and a banana')")
    alpha = _check_fraction("alpha", alpha, 0, 1, "0 keeps the embeddings, 1 replaces them by the attention output")
    steps = _check_int("steps", steps, 1, MAX_STEPS, "each step is one more round of attention")
    max_tokens = _check_int("max_tokens", max_tokens, 1, 100_000, "512 is plenty for a lecture")
    temperature = check_temperature(temperature)
    if similarity not in SIMILARITIES:
        raise ValueError(f"similarity must be one of {SIMILARITIES} (got {similarity!r})")
    w = presets.preset_weights(preset, n_head, seed=seed) if weights is None else check_weights(weights)
    presets.check_n_head(n_head)

    tokens = tokenize(text)
    if not tokens:
        raise ValueError("type a sentence first: the text has no words (try 'I ate an apple and a banana')")
    notices = []
    if len(tokens) > max_tokens:
        notices.append(f"The text has {len(tokens)} tokens; the lecture model uses the first {max_tokens}.")
        tokens = tokens[:max_tokens]
    x, unknown = embed(tokens)
    if unknown.any():
        words = list(dict.fromkeys(t for t, u in zip(tokens, unknown, strict=True) if u))
        shown = ", ".join(words[:10]) + (", ..." if len(words) > 10 else "")
        notices.append(f"{len(words)} word(s) are not in the lecture vocabulary and get a made-up vector: {shown}")

    mask = causal_mask(len(tokens)) if causal else None
    hidden, attn_out, kept = [x], [], {"queries": [], "keys": [], "values": [], "weights": []}
    if head_mask is not None and np.shape(head_mask) != (steps, n_head):
        raise ValueError(f"head_mask must be [steps, n_head] = [{steps}, {n_head}] (got {list(np.shape(head_mask))})")
    for step in range(steps):
        mh = multi_head_attention(
            hidden[-1], **w, n_head=n_head, mask=mask, temperature=temperature, similarity_kind=similarity
        )
        for name, arrays in kept.items():  # keep only what a Run stores; run.stages recomputes the rest
            arrays.append(getattr(mh.heads, name))
        output = mh.output if head_mask is None else mask_heads(mh.concat, head_mask[step]) @ w["w_o"]
        attn_out.append(output)
        hidden.append(context_pull(hidden[-1], output, alpha))

    def stack(arrays):  # list of n_layer arrays -> [n_layer, ...] float32
        return np.stack(arrays).astype(np.float32, copy=False)

    return Run(
        model="lecture",
        tokens=tokens,
        queries=stack(kept["queries"]),
        keys=stack(kept["keys"]),
        values=stack(kept["values"]),
        weights=stack(kept["weights"]),
        hidden=stack(hidden),
        attn_out=stack(attn_out),
        mask=mask,
        temperature=temperature,
        similarity=similarity,
        scale=True,
        unknown=unknown,
        notices=notices,
    )

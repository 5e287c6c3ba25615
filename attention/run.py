"""A Run: one sentence through one model, holding what every page, figure and export reads.

The lecture model and the real checkpoints both return a Run, so the pages never ask which one they got.
Only the compact per-layer tensors are stored; the per-head stages (raw, scaled, masked) are recomputed
on demand by `stages`, with the same `core.attention` that produced the weights.
"""

from dataclasses import dataclass, field

import numpy as np

from .core import attention, similarity


@dataclass
class Predictions:
    """What a model with an output head predicts at each position: the next token (decoders) or the token under
    each [MASK] / <mask> (MLM encoders). Only the top 20 and the entropy are kept, not the whole vocabulary."""

    kind: str  # "next" (decoders: the token after position i) or "mask" (MLM: the token at position i)
    top_ids: np.ndarray  # [n_seq, 20] int64, most probable first
    top_tokens: list[list[str]]  # [n_seq][20] readable strings, like Run.tokens ("␣cat")
    top_probs: np.ndarray  # [n_seq, 20] float32 softmax probabilities over the whole vocabulary
    entropy: np.ndarray  # [n_seq] float32, in nats, of the whole distribution
    mask_positions: np.ndarray  # [n_mask] int: positions of [MASK] / <mask> tokens (kind "mask"; empty otherwise)
    logits: np.ndarray | None = None  # [n_seq, vocab] float32, only when asked (full_logits=True)

    def take(self, keep):  # [n_seq] bool -> Predictions of the kept positions only (hide_special)
        old_to_new = np.cumsum(keep) - 1
        return Predictions(
            self.kind,
            self.top_ids[keep],
            [row for row, k in zip(self.top_tokens, keep, strict=True) if k],
            self.top_probs[keep],
            self.entropy[keep],
            old_to_new[[p for p in self.mask_positions if keep[p]]].astype(np.int64),
            None if self.logits is None else self.logits[keep],
        )


@dataclass
class Run:
    model: str  # "lecture" or a real model's short name, e.g. "minilm"
    tokens: list[str]  # n_seq token strings as the model sees them (subword pieces keep their ##)
    queries: np.ndarray  # [n_layer, n_head, n_seq, d_head]
    keys: np.ndarray  # [n_layer, n_head, n_seq, d_head]
    values: np.ndarray  # [n_layer, n_head, n_seq, d_head]
    weights: np.ndarray  # [n_layer, n_head, n_seq, n_seq] softmax weights, rows sum to 1
    hidden: np.ndarray  # [n_layer + 1, n_seq, d_model]; hidden[0] = input embeddings
    attn_out: np.ndarray  # [n_layer, n_seq, d_model] each layer's attention output after W_o
    mask: np.ndarray | None = None  # [n_seq, n_seq] bool, True where a query may look at a key
    temperature: float = 1.0
    similarity: str = "dot"  # "dot" or "cosine"
    scale: bool = True  # divide dot products by √d_head
    special: np.ndarray | None = None  # [n_seq] bool: [CLS], [SEP], <s>, ... tokens
    unknown: np.ndarray | None = None  # [n_seq] bool: lecture-model words not in the vocabulary
    notices: list[str] = field(default_factory=list)  # things the page must tell the user (truncation, ...)
    predictions: Predictions | None = None  # None: the lecture model, or a checkpoint without an output head
    predictions_note: str | None = None  # why there are no predictions, for the page to say
    kv_heads: np.ndarray | None = None  # [n_head] int: the key/value head each query head reads (GQA); None: its own
    rope: np.ndarray | None = (
        None  # [d_head/2] float32 RoPE inv_freq; queries/keys are AFTER rotation (models.unrotate)
    )
    positions: np.ndarray | None = None  # [n_seq] int: each kept token's position in the model's input (RoPE angle)

    @property
    def n_layer(self):
        return self.weights.shape[0]

    @property
    def n_head(self):
        return self.weights.shape[1]

    @property
    def n_seq(self):
        return len(self.tokens)

    @property
    def n_kv_head(self):  # distinct key/value heads (grouped-query attention), n_head for plain multi-head
        return self.n_head if self.kv_heads is None else int(self.kv_heads.max()) + 1

    @property
    def d_head(self):
        return self.queries.shape[-1]

    @property
    def d_model(self):
        return self.hidden.shape[-1]


def stages(run, layer, head):  # -> Attention with n_head = 1: [1, n_seq, n_seq] / [1, n_seq, d_head]
    """Every stage for one (layer, head), recomputed from its Q, K, V with the run's own settings."""
    q, k, v = (a[layer, head] for a in (run.queries, run.keys, run.values))
    return attention(
        q, k, v, mask=run.mask, temperature=run.temperature, similarity_kind=run.similarity, scale=run.scale
    )


def raw_scores(run):  # -> [n_layer, n_head, n_seq, n_seq]
    """QKᵀ (or cosine) for every layer and head, before scaling and masking."""
    return similarity(run.queries, run.keys, run.similarity).astype(np.float32)

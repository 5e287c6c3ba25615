"""A Run: one sentence through one model, holding what every page, figure and export reads.

The lecture model and the real checkpoints both return a Run, so the pages never ask which one they got.
Only the compact per-layer tensors are stored; the per-head stages (raw, scaled, masked) are recomputed
on demand by `stages`, with the same `core.attention` that produced the weights.
"""

from dataclasses import dataclass, field

import numpy as np

from .core import attention, similarity


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

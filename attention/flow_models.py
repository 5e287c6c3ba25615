"""attention.flow for every model: the one place that knows where each model keeps what flow needs.

The contract with the models (attention.models):
  FlowParts  x [n_layer, n_seq, d_model] each layer's q/k/v projection input (after any pre-norm, the family's
             attn_input of the layer's input), W_v, b_v, W_o from models.value_out in x @ W form, Run.kv_heads
                                                                          -> model_parts(run, ckpt)
  ablation   models.forward(..., head_mask=flow.head_mask(...)): the final hidden states (after the final norm)
             with one head's slice of the concatenation before W_o zeroed -> ablated_hidden(ckpt, run, ids, ...)
  effect     models.predict (each model's own head: GPT-2's tied wte, Llama's lm_head, BERT's MLM head)
"""

from dataclasses import dataclass

import numpy as np

from . import flow
from .models import blocks, encode, forward, load, predict, value_out
from .models.families import family


@dataclass
class FlowParts:
    x: np.ndarray  # [n_layer, n_seq, d_model] input to each layer's q/k/v projections, after any pre-norm
    w_v: np.ndarray  # [n_layer, d_model, n_kv_head·d_head] (x @ w_v)
    b_v: np.ndarray | None  # [n_layer, n_kv_head·d_head]
    w_o: np.ndarray  # [n_layer, n_head·d_head, d_model]
    kv_heads: np.ndarray  # [n_head] the KV head each query head reads


def lecture_parts(run, weights):  # Run, dict(w_q, w_k, w_v, w_o) -> FlowParts
    """The lecture model projects hidden[s] itself (no norm, no bias), with the same W_v, W_o every step."""
    n = run.n_layer
    w_v, w_o = (np.broadcast_to(np.asarray(weights[k], np.float32), (n, *np.shape(weights[k]))) for k in ("w_v", "w_o"))
    return FlowParts(run.hidden[:-1], w_v, None, w_o, np.arange(run.n_head))


def every_token(run):  # -> None, or a ValueError when the Run lost tokens (hide_special)
    if run.positions is not None and not np.array_equal(run.positions, np.arange(run.n_seq)):
        raise ValueError("value norms and ablation need every token the model saw; turn off 'hide special tokens'")


def model_parts(run, ckpt):  # Run (every token, none hidden), Checkpoint -> FlowParts
    """x_l = the family's projection input of hidden[l] (pre-LN/RMSNorm for GPT-2 and Llama, hidden[l] itself for
    post-LN encoders), exactly what forward(..., keep_inputs=True) keeps; W_v, b_v, W_o from models.value_out."""
    every_token(run)
    c, fam, layers = ckpt.config, family(ckpt.config.arch), ckpt.weights["layers"]
    x = np.stack([fam.attn_input(run.hidden[i], layer, c) for i, layer in enumerate(layers)])
    parts = [
        value_out(ckpt, i) for i in range(c.n_layer)
    ]  # W_v [n_kv_head, d_head, d_model], W_o [d_model, n_head, d_head]
    w_v = np.stack([p[0].reshape(-1, c.d_model).T for p in parts])  # [n_layer, d_model, n_kv_head·d_head]
    b_v = np.stack([p[1].reshape(-1) for p in parts])
    w_o = np.stack([p[2].reshape(c.d_model, -1).T for p in parts])  # [n_layer, n_head·d_head, d_model]
    kv = run.kv_heads if run.kv_heads is not None else np.arange(c.n_head)
    return FlowParts(x, w_v, b_v, w_o, np.asarray(kv))


def layer_flow(
    run, parts, layer
):  # -> (per head [n_head, n_seq, n_seq], per layer [n_seq, n_seq], ‖f‖ [n_head, n_seq])
    """Kobayashi et al.'s norms for one layer, and the size ‖f^h(x_j)‖ of what each token sends through each head."""
    b_v = None if parts.b_v is None else parts.b_v[layer]
    f = flow.value_vectors(parts.x[layer], parts.w_v[layer], b_v, parts.w_o[layer], run.n_head, parts.kv_heads)
    w = run.weights[layer]
    return flow.value_norms(w, f), flow.value_norms_layer(w, f), np.linalg.norm(f, axis=-1).astype(np.float32)


def value_flow(
    run, parts
):  # -> (per head [n_layer, n_head, n_seq, n_seq], per layer [n_layer, n_seq, n_seq], ‖f‖ [n_layer, n_head, n_seq])
    """layer_flow for every layer, stacked (f^h(x_j) is never held for all layers at once)."""
    per_head, per_layer, sizes = zip(*(layer_flow(run, parts, i) for i in range(run.n_layer)), strict=True)
    return np.stack(per_head), np.stack(per_layer), np.stack(sizes)


def model_ids(
    ckpt, text, run
):  # -> (ids [n_seq], type_ids [n_seq]): the tokens that made `run`, as the model reads them
    """Tokenised again with the run's length as the cap, so a truncated run gets the same tokens."""
    every_token(run)
    ids, type_ids, *_ = encode(ckpt, text, max_tokens=run.n_seq)
    if len(ids) != run.n_seq:
        raise ValueError(f"the text gives {len(ids)} tokens but the run has {run.n_seq}; run the text again")
    return ids, type_ids


def ablated_hidden(ckpt, run, ids, layer, head, upto=None, type_ids=None):  # -> [n_seq or upto, d_model]
    """forward(..., head_mask=flow.head_mask(...))'s final hidden states (after the final norm), with the run's
    temperature and similarity. upto: a causal model's first `upto` tokens suffice for positions < upto.
    The only place that runs a real model for ablation."""
    c = ckpt.config
    ids = np.asarray(ids)[:upto]
    type_ids = None if type_ids is None else np.asarray(type_ids)[:upto]
    args = (ckpt, ids, type_ids, run.temperature, run.similarity, flow.head_mask(c.n_layer, c.n_head, layer, head))
    if blocks.POOL is not None and len(ids) >= blocks.PARALLEL_FROM:
        return forward(*args)["hidden"][-1]  # a long pass takes the BLAS lock and our threads itself
    with blocks.BLAS_LOCK, blocks.blas_on_one_thread():  # BLAS's idle threads would fight many small passes
        return forward(*args)["hidden"][-1]


def head_output(ckpt, hidden_row):  # [d_model] final hidden state -> (probs [vocab] float64, Predictions of 1 row)
    """The model's own prediction head (models.predict): GPT-2's tied wte, Llama's lm_head, BERT's MLM head."""
    pred = predict(ckpt, np.asarray(hidden_row, np.float32)[None], np.zeros(1, np.int64), full_logits=True)
    return flow.softmax64(pred.logits[0]), pred


def effect_kind(run, lecture=False):  # -> "kl" | "cosine" | "pull": what switching a head off is measured on
    """The pull for the lecture model, the KL of the predictions when the Run predicts (decoders, MLM encoders),
    else the sentence embedding (MiniLM)."""
    return "pull" if lecture else "kl" if run.predictions is not None else "cosine"


class Ablation:
    """Switch one head off and measure the effect on what the model is for: the prediction at `token` (decoders:
    the next token; MLM encoders: the token at `token`; KL in nats), the mean-pooled sentence embedding (MiniLM:
    1 − cosine), or the pull (lecture). Real models need ckpt and the run's text; the lecture model text, options."""

    def __init__(self, run, token, ckpt=None, text=None, options=None):
        self.run, self.token, self.ckpt, self.text, self.options = run, int(token), ckpt, text, options or {}
        self.kind = effect_kind(run, lecture=ckpt is None)
        if ckpt is not None:
            self.ids, self.type_ids = model_ids(ckpt, text, run)
        if self.kind == "kl":
            self.before, self.top = head_output(ckpt, run.hidden[-1][self.token])

    @property
    def label(self):  # -> str: what the effect number means
        what = "next-token prediction" if self.ckpt is not None and self.ckpt.config.causal else "prediction"
        return {"kl": f"KL(with ‖ without) of the {what}, nats",
                "cosine": "1 − cos(sentence embedding with, without)",
                "pull": "‖change of the token's pull‖ / ‖pull‖"}[self.kind]  # fmt: skip

    def final(self, layer, head):  # -> the final hidden states with (layer, head) off
        if self.ckpt is None:
            from .lecture import run_lecture

            mask = flow.head_mask(self.run.n_layer, self.run.n_head, layer, head)
            return run_lecture(self.text, **self.options, head_mask=mask).hidden[-1]
        upto = self.token + 1 if self.kind == "kl" and self.ckpt.config.causal else None
        return ablated_hidden(self.ckpt, self.run, self.ids, layer, head, upto, self.type_ids)

    def effect(self, layer, head):  # -> float
        off = self.final(layer, head)
        if self.kind == "kl":
            return float(flow.kl_divergence(self.before, head_output(self.ckpt, off[self.token])[0]))
        if self.kind == "cosine":
            return 1.0 - flow.mean_pooled_cosine(self.run.hidden[-1], off)
        return flow.pull_change(self.run.hidden[0], self.run.hidden[-1], off, self.token)

    def predictions(self, layer=None, head=None, k=10):  # -> list[(token, prob)] at `token`, or None (no head)
        if self.kind != "kl":
            return None
        pred = self.top if layer is None else head_output(self.ckpt, self.final(layer, head)[self.token])[1]
        return [(t, float(p)) for t, p in zip(pred.top_tokens[0][:k], pred.top_probs[0][:k], strict=True)]

    def grid(self):  # -> [n_layer, n_head]
        return flow.ablation_grid(self.effect, self.run.n_layer, self.run.n_head)


WITH = ("norms", "rollout")  # what `python -m attention export --with` can add


def parse_with(text):  # "norms,rollout" -> tuple of names from WITH
    names = tuple(dict.fromkeys(n.strip() for n in str(text).split(",") if n.strip()))
    if not names or set(names) - set(WITH):
        raise ValueError(f"--with takes a comma-separated list of {', '.join(WITH)} (got {text!r})")
    return names


def parts_for(run, model, settings, model_dir=None):  # -> FlowParts of the model that made `run`
    """The lecture model's W_v, W_o come from its preset (or edited weights); a real model's from its checkpoint."""
    if model == "lecture":
        from .presets import preset_weights

        w = settings.get("weights") or preset_weights(
            settings.get("preset", "identity"), settings.get("n_head", 1), seed=settings.get("seed", 0)
        )
        return lecture_parts(run, w)
    return model_parts(run, load(model, model_dir=model_dir))


def export_arrays(run, names, model, settings, model_dir=None):  # -> {key: array} for the export file
    """value_norms [n_layer, n_head, n_seq, n_seq], value_norms_layer [n_layer, n_seq, n_seq] and
    rollout [n_layer, n_seq, n_seq] (rollout[l] = R_{l+1}), as asked."""
    if settings.get("hide_special"):
        raise ValueError("--with needs every token the model saw; leave out --hide-special")
    out = {}
    if "norms" in names:
        per_head, per_layer, _ = value_flow(run, parts_for(run, model, settings, model_dir))
        out |= {"value_norms": per_head, "value_norms_layer": per_layer}
    if "rollout" in names:
        out["rollout"] = flow.rollout(run.weights)
    return out

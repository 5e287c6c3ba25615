"""attention.flow for every model: the one place that knows where each model keeps what flow needs.

The contract with the models (what attention.models will expose; until then computed here):
  FlowParts  x [n_layer, n_seq, d_model] each layer's q/k/v projection input (after any pre-norm), and W_v, b_v,
             W_o in x @ W form, kv_heads [n_head];                        -> model_parts(run, ckpt)
  ablation   the final hidden states with one head's slice of the concatenation before W_o zeroed, the layers
             above recomputed;                                            -> ablated_hidden(ckpt, run, ...)
Only those two functions read the forward pass's internals (attention.transformer).
"""

from dataclasses import dataclass

import numpy as np

from . import checkpoint, flow
from .core import causal_mask


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


def model_parts(run, ckpt):  # Run (every token, none hidden), Checkpoint -> FlowParts
    """TO REWIRE when attention.models lands: its per-layer projection inputs, W_v, b_v, W_o and Run.kv_heads.
    Today: post-LN encoders project hidden[l] itself; GPT-2 projects LN1(hidden[l])."""
    from .transformer import layer_norm

    c, layers = ckpt.config, ckpt.weights["layers"]
    d = c.d_model
    x = np.stack([layer_norm(run.hidden[i], *layer["ln1"], c.eps) if c.causal else run.hidden[i]
                  for i, layer in enumerate(layers)])  # fmt: skip
    w_v = np.stack([layer["qkv"][0][2 * d :].T for layer in layers])  # V rows of the fused [3 d_model, d_model]
    b_v = np.stack([layer["qkv"][1][2 * d :] for layer in layers])
    w_o = np.stack([layer["o"][0].T for layer in layers])
    return FlowParts(x, w_v, b_v, w_o, np.arange(c.n_head))


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


def ablated_hidden(ckpt, run, layer, head, upto=None):  # -> [n_seq or upto, d_model] final hidden states
    """TO REWIRE when attention.models lands: forward(..., head_mask=flow.head_mask(...))[hidden][-1].
    Today: layers `layer`.. rerun from run.hidden[layer] with head `head`'s context zeroed before W_o, through
    attention.transformer's own steps. upto: a causal model's first `upto` tokens suffice for positions < upto."""
    from . import transformer as tf

    c, w = ckpt.config, ckpt.weights
    x = np.array(run.hidden[layer][:upto], np.float32)
    n_seq, d_head = len(x), c.d_model // c.n_head
    mask = causal_mask(n_seq) if c.causal else None
    act = tf.ACTIVATIONS[c.act]
    qkv = np.empty((3, c.n_head, n_seq, d_head), np.float32)
    weights, context = np.empty((c.n_head, n_seq, n_seq), np.float32), np.empty((c.n_head, n_seq, d_head), np.float32)
    attn_out = np.empty((n_seq, c.d_model), np.float32)
    for i in range(layer, c.n_layer):
        spec = w["layers"][i]
        tf.project_qkv(0, n_seq, x, spec, c, qkv)
        tf.attend(*qkv, mask, run.temperature, run.similarity, weights, context)
        if i == layer:
            context[head] = 0.0
        out = np.empty_like(x)
        tf.block_rest(0, n_seq, x, context, spec, act, c, attn_out, out)
        x = out
    return tf.layer_norm(x, *w["final_ln"], c.eps) if "final_ln" in w else x


def lm_logits(ckpt, hidden_row):  # [d_model] final hidden state -> [vocab]: GPT-2's tied head, hidden · W_embᵀ
    return np.asarray(hidden_row, np.float32) @ ckpt.weights["word"].T


def top_predictions(ckpt, probs, k=10):  # [vocab] -> list[(token, prob)], most likely first
    from .transformer import readable

    ids = np.argsort(-probs, kind="stable")[:k]
    return [(readable(ckpt.tokenizer.id_to_token(int(i)) or "?"), float(probs[i])) for i in ids]


class Ablation:
    """Switch one head off and measure the effect on what the model is for: the next-token prediction at `token`
    (decoders: KL in nats), the mean-pooled sentence embedding (encoders: 1 − cosine), or the pull (lecture)."""

    def __init__(self, run, token, ckpt=None, lecture=None):  # lecture: (text, run_lecture keyword arguments)
        self.run, self.token, self.ckpt, self.lecture = run, int(token), ckpt, lecture
        self.kind = "pull" if ckpt is None else "kl" if ckpt.config.causal else "cosine"
        if self.kind == "kl":
            self.before = flow.softmax64(lm_logits(ckpt, run.hidden[-1][self.token]))

    @property
    def label(self):  # -> str: what the effect number means
        return {"kl": "KL(with ‖ without) of the next-token prediction, nats",
                "cosine": "1 − cos(sentence embedding with, without)",
                "pull": "‖change of the token's pull‖ / ‖pull‖"}[self.kind]  # fmt: skip

    def final(self, layer, head):  # -> the final hidden states with (layer, head) off
        if self.ckpt is None:
            from .lecture import run_lecture

            text, options = self.lecture
            mask = flow.head_mask(self.run.n_layer, self.run.n_head, layer, head)
            return run_lecture(text, **options, head_mask=mask).hidden[-1]
        from . import transformer as tf

        upto = self.token + 1 if self.kind == "kl" else None
        with (
            tf.BLAS_LOCK,
            tf.blas_on_one_thread(),
        ):  # BLAS's idle threads would fight for the cores of many small passes
            return ablated_hidden(self.ckpt, self.run, layer, head, upto)

    def effect(self, layer, head):  # -> float
        off = self.final(layer, head)
        if self.kind == "kl":
            return float(flow.kl_divergence(self.before, flow.softmax64(lm_logits(self.ckpt, off[self.token]))))
        if self.kind == "cosine":
            return 1.0 - flow.mean_pooled_cosine(self.run.hidden[-1], off)
        return flow.pull_change(self.run.hidden[0], self.run.hidden[-1], off, self.token)

    def predictions(self, layer=None, head=None, k=10):  # -> list[(token, prob)] at `token`, or None (no LM head)
        if self.kind != "kl":
            return None
        probs = (
            self.before if layer is None else flow.softmax64(lm_logits(self.ckpt, self.final(layer, head)[self.token]))
        )
        return top_predictions(self.ckpt, probs, k)

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
    return model_parts(run, checkpoint.load(model, model_dir=model_dir))


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

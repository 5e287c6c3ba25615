"""BERT (and MiniLM), DistilBERT and RoBERTa: post-LN encoders, each token attends to every token.

A layer: x = LN(x + W_o·Attn(x)); x = LN(x + W_out·act(W_in·x)). With a masked-language-model head (BERT's
cls.predictions, DistilBERT's vocab_*, RoBERTa's lm_head) the last hidden state predicts each [MASK] / <mask>.
"""

import numpy as np

from .blocks import ACTIVATIONS, layer_norm, linear, split_qkv
from .loading import CheckpointError, Config

ARCHS = ("bert", "distilbert", "roberta")
KEYS = {  # our name -> the checkpoint's key: n_layer, n_head, d_model, d_ff, n_pos
    "bert": ("num_hidden_layers", "num_attention_heads", "hidden_size", "intermediate_size", "max_position_embeddings"),
    "distilbert": ("n_layers", "n_heads", "dim", "hidden_dim", "max_position_embeddings"),
}
# Tensor names for our canonical ones ({i} = layer); linear layers are stored [out, in].
NAMES = {
    "bert": {
        "word": "embeddings.word_embeddings.weight",
        "position": "embeddings.position_embeddings.weight",
        "type": "embeddings.token_type_embeddings.weight",
        "emb_ln": "embeddings.LayerNorm",
        "q": "encoder.layer.{i}.attention.self.query",
        "k": "encoder.layer.{i}.attention.self.key",
        "v": "encoder.layer.{i}.attention.self.value",
        "o": "encoder.layer.{i}.attention.output.dense",
        "ln1": "encoder.layer.{i}.attention.output.LayerNorm",
        "ff_in": "encoder.layer.{i}.intermediate.dense",
        "ff_out": "encoder.layer.{i}.output.dense",
        "ln2": "encoder.layer.{i}.output.LayerNorm",
    },
    "distilbert": {
        "word": "embeddings.word_embeddings.weight",
        "position": "embeddings.position_embeddings.weight",
        "emb_ln": "embeddings.LayerNorm",
        "q": "transformer.layer.{i}.attention.q_lin",
        "k": "transformer.layer.{i}.attention.k_lin",
        "v": "transformer.layer.{i}.attention.v_lin",
        "o": "transformer.layer.{i}.attention.out_lin",
        "ln1": "transformer.layer.{i}.sa_layer_norm",
        "ff_in": "transformer.layer.{i}.ffn.lin1",
        "ff_out": "transformer.layer.{i}.ffn.lin2",
        "ln2": "transformer.layer.{i}.output_layer_norm",
    },
}
NAMES["roberta"] = NAMES["bert"]
# The MLM head, outside the encoder's prefix: dense -> act -> LayerNorm -> decoder (tied to the word embeddings)
MLM = {
    "bert": ("cls.predictions.transform.dense", "cls.predictions.transform.LayerNorm", "cls.predictions.decoder"),
    "distilbert": ("vocab_transform", "vocab_layer_norm", "vocab_projector"),
    "roberta": ("lm_head.dense", "lm_head.layer_norm", "lm_head.decoder"),
}
MLM_BIAS = {"bert": "cls.predictions.bias", "distilbert": "vocab_projector.bias", "roberta": "lm_head.bias"}
NO_HEAD = (
    "this checkpoint has no masked-language-model head (it was trained for sentence embeddings), so it predicts nothing"
)


def read_config(raw):  # config.json dict -> Config
    arch = raw["model_type"]
    keys = KEYS["distilbert" if arch == "distilbert" else "bert"]
    if missing := [k for k in keys if not isinstance(raw.get(k), int)]:
        raise CheckpointError(f"config.json ({arch}) lacks integer {', '.join(missing)}")
    n_layer, n_head, d_model, d_ff, n_pos = (raw[k] for k in keys)
    if d_model % n_head:
        raise CheckpointError(f"config.json: {keys[1]}={n_head} does not divide {keys[2]}={d_model}")
    act = raw.get("activation" if arch == "distilbert" else "hidden_act")
    act = {"gelu_pytorch_tanh": "gelu_new"}.get(act, act)
    if act not in ("gelu", "gelu_new", "relu"):
        raise CheckpointError(f"config.json: activation {act!r} is not supported; expected gelu, gelu_new or relu")
    offset = raw.get("pad_token_id", 1) + 1 if arch == "roberta" else 0
    eps = float(raw.get("layer_norm_eps", 1e-12))
    return Config(arch, n_layer, n_head, d_model, d_ff, n_pos, n_pos - offset, eps, act, offset, False)


def canonical_weights(t, config):  # families.Tensors, Config -> {canonical name: float32 array}
    """Rename, fuse Q|K|V into one [3·d_model, d_model], check every shape; the MLM head when there is one."""
    names, d, f = NAMES[config.arch], config.d_model, config.d_ff
    vocab = t.find_prefix(names["word"])[0]
    out = {"word": t.get(names["word"], (vocab, d)), "position": t.get(names["position"], (config.n_pos, d))}
    if "type" in names:  # BERT has 2 segment types, RoBERTa 1: take the count from the checkpoint
        n_types = t.tensors[t.prefix + names["type"]].shape[0] if t.has(names["type"]) else 1
        out["type"] = t.get(names["type"], (n_types, d))
    out["emb_ln"] = t.norm(names["emb_ln"], d)
    layers = []
    for i in range(config.n_layer):
        n = {k: v.format(i=i) for k, v in names.items()}
        (wq, bq), (wk, bk), (wv, bv) = (t.linear(n[k], d, d) for k in "qkv")
        layers.append(
            {
                "qkv": (np.concatenate([wq, wk, wv]), np.concatenate([bq, bk, bv])),
                "o": t.linear(n["o"], d, d),
                "ln1": t.norm(n["ln1"], d),
                "ff_in": t.linear(n["ff_in"], d, f),
                "ff_out": t.linear(n["ff_out"], f, d),
                "ln2": t.norm(n["ln2"], d),
            }
        )
    out["layers"] = layers
    dense, ln, decoder = MLM[config.arch]
    if t.has(dense + ".weight", prefixed=False):
        w_dec = t.get(decoder + ".weight", (vocab, d), False) if t.has(decoder + ".weight", False) else out["word"]
        bias = MLM_BIAS[config.arch] if t.has(MLM_BIAS[config.arch], False) else decoder + ".bias"
        out["mlm"] = {
            "dense": t.linear(dense, d, d, prefixed=False),
            "ln": t.norm(ln, d, prefixed=False),
            "decoder": (w_dec, t.get(bias, (vocab,), False)),
        }
    return out


def embed(ids, type_ids, w, c, positions):  # [n_seq] int x2, positions [n_seq] -> [n_seq, d_model]
    """Token + position (+ segment) embeddings, then a LayerNorm. RoBERTa counts positions from padding_idx + 1."""
    x = w["word"][ids] + w["position"][positions + c.pos_offset]
    if "type" in w:
        x += w["type"][type_ids]
    return layer_norm(x, *w["emb_ln"], c.eps)


def attn_input(x, layer, c):  # [rows, d_model] -> [rows, d_model]: post-LN, so the projections read x itself
    return x


def qkv_rows(x, layer, c, positions, w):  # [rows, d_model] -> q, k, v [n_head, rows, d_head]
    return split_qkv(linear(x, *layer["qkv"]), c.n_head, c.n_head, c.d_head)


def after_attention(x, attn, layer, c):  # x, W_o·heads [rows, d_model] -> the layer's output [rows, d_model]
    """Post-LN: LN(x + Attn(x)), then LN(x + FFN(x))."""
    x = layer_norm(x + attn, *layer["ln1"], c.eps)
    ff = linear(ACTIVATIONS[c.act](linear(x, *layer["ff_in"])), *layer["ff_out"])
    return layer_norm(x + ff, *layer["ln2"], c.eps)


def final_norm(x, w, c):  # post-LN encoders end normalised already
    return x


def logits(x, w, c):  # [rows, d_model] -> [rows, vocab]: the MLM head (KeyError if it has none)
    head = w["mlm"]
    act = "gelu" if c.arch == "roberta" else c.act  # RoBERTa's lm_head always uses erf GELU
    eps = 1e-12 if c.arch == "distilbert" else c.eps
    h = layer_norm(ACTIVATIONS[act](linear(x, *head["dense"])), *head["ln"], eps)
    return linear(h, *head["decoder"])


def has_head(w):  # -> bool
    return "mlm" in w


def trace(x, attn, layer, c):  # layer input, W_o·heads [n_seq, d_model] -> every step of the layer, real numbers
    mid = layer_norm(x + attn, *layer["ln1"], c.eps)
    ff_in = linear(mid, *layer["ff_in"])
    act = ACTIVATIONS[c.act](ff_in.copy())
    ff_out = linear(act, *layer["ff_out"])
    return dict(input=x, attn_out=attn, mid=mid, ff_in=ff_in, act=act, ff_out=ff_out,
                output=layer_norm(mid + ff_out, *layer["ln2"], c.eps))  # fmt: skip

"""GPT-2: a pre-LN causal decoder with learned positions; the output head is the token embedding (tied).

A layer: x = x + W_o·Attn(LN1(x)); x = x + W_out·gelu(W_in·LN2(x)); after the last, ln_f. Every row depends only
on earlier rows, so a layer can run new tokens alone against cached keys and values (see passes.step).
"""

from .blocks import ACTIVATIONS, layer_norm, linear, split_qkv
from .loading import CheckpointError, Config

ARCHS = ("gpt2",)
KEYS = ("n_layer", "n_head", "n_embd", "n_inner", "n_positions")
NAMES = {  # Conv1D layers are stored [n_in, n_out] and transposed on load
    "word": "wte.weight",
    "position": "wpe.weight",
    "ln1": "h.{i}.ln_1",
    "qkv": "h.{i}.attn.c_attn",
    "o": "h.{i}.attn.c_proj",
    "ln2": "h.{i}.ln_2",
    "ff_in": "h.{i}.mlp.c_fc",
    "ff_out": "h.{i}.mlp.c_proj",
    "final_ln": "ln_f",
}


def read_config(raw):  # config.json dict -> Config
    if raw.get("n_inner") is None:
        raw = {**raw, "n_inner": 4 * raw.get("n_embd", 0)}  # GPT-2's default MLP width
    if missing := [k for k in KEYS if not isinstance(raw.get(k), int)]:
        raise CheckpointError(f"config.json (gpt2) lacks integer {', '.join(missing)}")
    n_layer, n_head, d_model, d_ff, n_pos = (raw[k] for k in KEYS)
    if d_model % n_head:
        raise CheckpointError(f"config.json: n_head={n_head} does not divide n_embd={d_model}")
    act = raw.get("activation_function")
    act = {"gelu_pytorch_tanh": "gelu_new"}.get(act, act)
    if act not in ("gelu", "gelu_new", "relu"):
        raise CheckpointError(f"config.json: activation {act!r} is not supported; expected gelu, gelu_new or relu")
    if raw.get("scale_attn_by_inverse_layer_idx") or raw.get("scale_attn_weights") is False:
        raise CheckpointError("config.json: GPT-2 attention scaling other than 1/sqrt(d_head) is not supported")
    eps = float(raw.get("layer_norm_epsilon", 1e-5))
    return Config("gpt2", n_layer, n_head, d_model, d_ff, n_pos, n_pos, eps, act, 0, True, tied=True)


def canonical_weights(t, config):  # families.Tensors, Config -> {canonical name: float32 array}
    d, f = config.d_model, config.d_ff
    vocab = t.find_prefix(NAMES["word"])[0]
    out = {"word": t.get(NAMES["word"], (vocab, d)), "position": t.get(NAMES["position"], (config.n_pos, d))}
    out["final_ln"] = t.norm(NAMES["final_ln"], d)
    out["layers"] = []
    for i in range(config.n_layer):
        n = {k: v.format(i=i) for k, v in NAMES.items()}
        out["layers"].append(
            {
                "ln1": t.norm(n["ln1"], d),
                "qkv": t.linear(n["qkv"], d, 3 * d, transposed=True),
                "o": t.linear(n["o"], d, d, transposed=True),
                "ln2": t.norm(n["ln2"], d),
                "ff_in": t.linear(n["ff_in"], d, f, transposed=True),
                "ff_out": t.linear(n["ff_out"], f, d, transposed=True),
            }
        )
    out["lm_head"] = t.get("lm_head.weight", (vocab, d), False) if t.has("lm_head.weight", False) else out["word"]
    return out


def embed(ids, type_ids, w, c, positions):  # [n_seq] int, _, positions [n_seq] -> [n_seq, d_model]
    return w["word"][ids] + w["position"][positions]


def attn_input(x, layer, c):  # [rows, d_model] -> LN1(x) [rows, d_model], what W_q, W_k, W_v read
    return layer_norm(x, *layer["ln1"], c.eps)


def qkv_rows(x, layer, c, positions, w):  # LN1(x) [rows, d_model] -> q, k, v [n_head, rows, d_head]
    return split_qkv(linear(x, *layer["qkv"]), c.n_head, c.n_head, c.d_head)


def after_attention(x, attn, layer, c):  # x, W_o·heads [rows, d_model] -> the layer's output [rows, d_model]
    """Pre-LN: x + Attn(LN(x)), then x + MLP(LN(x))."""
    x = x + attn
    return x + linear(
        ACTIVATIONS[c.act](linear(layer_norm(x, *layer["ln2"], c.eps), *layer["ff_in"])), *layer["ff_out"]
    )


def final_norm(x, w, c):  # [rows, d_model] -> ln_f(x), the last hidden state transformers reports
    return layer_norm(x, *w["final_ln"], c.eps)


def logits(x, w, c):  # ln_f(x) [rows, d_model] -> [rows, vocab]: next-token scores (wte, tied)
    return x @ w["lm_head"].T


def has_head(w):  # -> bool
    return True


def trace(x, attn, layer, c):  # layer input, W_o·heads [n_seq, d_model] -> every step of the layer, real numbers
    mid = x + attn
    normed2 = layer_norm(mid, *layer["ln2"], c.eps)
    ff_in = linear(normed2, *layer["ff_in"])
    act = ACTIVATIONS[c.act](ff_in.copy())
    ff_out = linear(act, *layer["ff_out"])
    return dict(input=x, normed1=layer_norm(x, *layer["ln1"], c.eps), attn_out=attn, mid=mid, normed2=normed2,
                ff_in=ff_in, act=act, ff_out=ff_out, output=mid + ff_out)  # fmt: skip

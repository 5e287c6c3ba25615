"""The Llama family: Llama (SmolLM2, TinyLlama), Mistral, Qwen2 (q/k/v biases) and Qwen3 (per-head q/k RMSNorm).

A layer: x = x + W_o·Attn(RoPE(q), RoPE(k), v) of RMSNorm1(x); x = x + W_down·(silu(W_gate·h) * W_up·h) with
h = RMSNorm2(x); after the last, RMSNorm. Grouped-query attention: n_head // n_kv_head query heads share each
key/value head. Positions enter only through RoPE, so a layer can run new tokens at a position offset against
cached keys and values (see passes.step).
"""

import numpy as np

from .blocks import ACTIVATIONS, linear, rms, rms_norm, rope_angles, rope_inv_freq, rotate, split_qkv
from .loading import CheckpointError, Config

ARCHS = ("llama", "mistral", "qwen2", "qwen3")
KEYS = ("num_hidden_layers", "num_attention_heads", "hidden_size", "intermediate_size", "max_position_embeddings")
ROPE_TYPES = ("default", "llama3")
LLAMA3 = ("factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings")
NAMES = {
    "word": "embed_tokens.weight",
    "ln1": "layers.{i}.input_layernorm",
    "q": "layers.{i}.self_attn.q_proj",
    "k": "layers.{i}.self_attn.k_proj",
    "v": "layers.{i}.self_attn.v_proj",
    "o": "layers.{i}.self_attn.o_proj",
    "q_norm": "layers.{i}.self_attn.q_norm",
    "k_norm": "layers.{i}.self_attn.k_norm",
    "ln2": "layers.{i}.post_attention_layernorm",
    "gate": "layers.{i}.mlp.gate_proj",
    "up": "layers.{i}.mlp.up_proj",
    "down": "layers.{i}.mlp.down_proj",
    "final_norm": "norm",
}


def rope_config(raw):  # config.json -> (rope_theta, llama3 scaling pairs or ())
    """transformers 5 writes rope_parameters; checkpoints on the Hub have rope_theta and rope_scaling."""
    p = dict(raw.get("rope_parameters") or {})
    p = {"rope_theta": raw.get("rope_theta", 10000.0), **(raw.get("rope_scaling") or {}), **p}
    kind = p.get("rope_type", p.get("type", "default"))
    if kind not in ROPE_TYPES:
        raise CheckpointError(f"config.json: rope scaling {kind!r} is not supported; supported: {ROPE_TYPES}")
    if kind == "llama3" and (missing := [k for k in LLAMA3 if not isinstance(p.get(k), (int, float))]):
        raise CheckpointError(f"config.json: llama3 rope scaling lacks {', '.join(missing)}")
    return float(p["rope_theta"]), tuple(sorted((k, float(p[k])) for k in LLAMA3)) if kind == "llama3" else ()


def read_config(raw):  # config.json dict -> Config
    arch = raw["model_type"]
    if missing := [k for k in KEYS if not isinstance(raw.get(k), int)]:
        raise CheckpointError(f"config.json ({arch}) lacks integer {', '.join(missing)}")
    n_layer, n_head, d_model, d_ff, n_pos = (raw[k] for k in KEYS)
    n_kv = raw.get("num_key_value_heads") or n_head
    d_head = raw.get("head_dim") or d_model // n_head
    if n_head % n_kv or (not raw.get("head_dim") and d_model % n_head):
        raise CheckpointError(f"config.json: {n_head} heads, {n_kv} KV heads, d_model {d_model}: sizes do not divide")
    if raw.get("hidden_act", "silu") != "silu":
        raise CheckpointError(f"config.json: hidden_act {raw['hidden_act']!r} is not supported; expected silu")
    theta, scaling = rope_config(raw)
    window = raw.get("sliding_window") if arch == "mistral" or raw.get("use_sliding_window") else None
    n_max = min(n_pos, window) if window else n_pos  # beyond the window the mask would differ: read at most that
    bias = bool(raw.get("attention_bias", False))
    return Config(
        arch, n_layer, n_head, d_model, d_ff, n_pos, n_max, float(raw.get("rms_norm_eps", 1e-6)), "silu",
        causal=True, kv_heads=n_kv, head_dim=d_head, rope_theta=theta, rope_scaling=scaling,
        qkv_bias=bias or arch == "qwen2", o_bias=bias, mlp_bias=bool(raw.get("mlp_bias", False)),
        qk_norm=arch == "qwen3", tied=bool(raw.get("tie_word_embeddings", False)),
    )  # fmt: skip


def canonical_weights(t, c):  # families.Tensors, Config -> {canonical name: float32 array}
    """q|k|v fused into one [(n_head + 2·n_kv_head)·d_head, d_model] projection; missing biases are zeros."""
    d, f, dh = c.d_model, c.d_ff, c.d_head
    vocab = t.find_prefix(NAMES["word"])[0]
    out = {"word": t.get(NAMES["word"], (vocab, d)), "final_norm": t.norm(NAMES["final_norm"], d, bias=False)}
    out["layers"] = []
    for i in range(c.n_layer):
        n = {k: v.format(i=i) for k, v in NAMES.items()}
        q, k, v = (
            t.linear(n[key], d, m * dh, c.qkv_bias)
            for key, m in (("q", c.n_head), ("k", c.n_kv_head), ("v", c.n_kv_head))
        )
        layer = {
            "ln1": t.norm(n["ln1"], d, bias=False),
            "qkv": (np.concatenate([q[0], k[0], v[0]]), np.concatenate([q[1], k[1], v[1]])),
            "o": t.linear(n["o"], c.n_head * dh, d, c.o_bias),
            "ln2": t.norm(n["ln2"], d, bias=False),
            **{key: t.linear(n[key], d, f, c.mlp_bias) for key in ("gate", "up")},
            "down": t.linear(n["down"], f, d, c.mlp_bias),
        }
        if c.qk_norm:
            layer["q_norm"], layer["k_norm"] = (t.norm(n[key], dh, bias=False) for key in ("q_norm", "k_norm"))
        out["layers"].append(layer)
    if c.tied:
        out["lm_head"] = out["word"]
    else:
        out["lm_head"] = t.get("lm_head.weight", (vocab, d), prefixed=False)
    out["inv_freq"] = rope_inv_freq(dh, c.rope_theta, c.rope_scaling)
    return out


def embed(ids, type_ids, w, c, positions):  # [n_seq] int -> [n_seq, d_model]: token embeddings only (RoPE later)
    return w["word"][ids]


def attn_input(x, layer, c):  # [rows, d_model] -> RMSNorm1(x), what W_q, W_k, W_v read
    return rms_norm(x, *layer["ln1"], c.eps)


def qkv_rows(x, layer, c, positions, w):  # [rows, d_model], [rows] -> q [n_head, rows, d_head], k, v [n_kv_head, ...]
    """Project, (Qwen3) RMSNorm each head's q and k, then rotate q and k by their positions (RoPE)."""
    q, k, v = split_qkv(linear(x, *layer["qkv"]), c.n_head, c.n_kv_head, c.d_head)
    if c.qk_norm:
        q, k = rms_norm(q, *layer["q_norm"], c.eps), rms_norm(k, *layer["k_norm"], c.eps)
    cos, sin = rope_angles(positions, w["inv_freq"])
    return rotate(q, cos, sin), rotate(k, cos, sin), v


def swiglu(h, layer, c):  # RMSNorm2(x) [rows, d_model] -> (gate, up, act(gate)·up) [rows, d_ff]
    gate, up = linear(h, *layer["gate"]), linear(h, *layer["up"])
    return gate, up, ACTIVATIONS["silu"](gate.copy()) * up


def after_attention(x, attn, layer, c):  # x, W_o·heads [rows, d_model] -> the layer's output [rows, d_model]
    x = x + attn
    return x + linear(swiglu(rms_norm(x, *layer["ln2"], c.eps), layer, c)[2], *layer["down"])


def final_norm(x, w, c):  # [rows, d_model] -> the final RMSNorm, the last hidden state transformers reports
    return rms_norm(x, *w["final_norm"], c.eps)


def logits(x, w, c):  # final-normed [rows, d_model] -> [rows, vocab]: next-token scores
    return x @ w["lm_head"].T


def has_head(w):  # -> bool
    return True


def trace(x, attn, layer, c):  # layer input, W_o·heads [n_seq, d_model] -> every step of the layer, real numbers
    """RMSNorm1 -> attention -> residual -> RMSNorm2 -> SwiGLU (gate, up, silu(gate)·up) -> down -> residual."""
    mid = x + attn
    normed2 = rms_norm(mid, *layer["ln2"], c.eps)
    gate, up, product = swiglu(normed2, layer, c)
    down = linear(product, *layer["down"])
    return dict(input=x, rms1=rms(x, c.eps)[:, 0], normed1=rms_norm(x, *layer["ln1"], c.eps), attn_out=attn,
                mid=mid, rms2=rms(mid, c.eps)[:, 0], normed2=normed2, gate=gate, up=up,
                act=ACTIVATIONS["silu"](gate.copy()), product=product, down=down, output=mid + down)  # fmt: skip

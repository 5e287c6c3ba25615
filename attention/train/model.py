"""A GPT-2 decoder in numpy: parameters under GPT-2's own tensor names, the forward pass keeping the caches,
and the backward pass that turns them into a gradient for every parameter.

Pre-LN blocks (Radford et al. 2019): h = x + Attn(LN₁(x)), out = h + MLP(LN₂(h)); a final LN; the output
head is the token embedding, tied.
"""

from dataclasses import asdict, dataclass

import numpy as np

from . import layers as L


@dataclass(frozen=True)
class Config:
    n_vocab: int
    n_pos: int  # rows of the position table: the longest sequence the model reads
    n_layer: int = 2
    n_head: int = 4
    d_model: int = 64
    scale: bool = True  # divide QKᵀ by √d_head (Vaswani et al. 2017, sec. 3.2.1)
    eps: float = 1e-5  # LayerNorm epsilon, GPT-2's

    @property
    def d_head(self):
        return self.d_model // self.n_head

    @property
    def d_ff(self):
        return 4 * self.d_model

    def hf_config(self):  # -> dict: config.json for transformers' GPT2LMHeadModel
        return {
            "model_type": "gpt2",
            "architectures": ["GPT2LMHeadModel"],
            "vocab_size": self.n_vocab,
            "n_positions": self.n_pos,
            "n_embd": self.d_model,
            "n_layer": self.n_layer,
            "n_head": self.n_head,
            "n_inner": self.d_ff,
            "activation_function": "gelu_new",
            "layer_norm_epsilon": self.eps,
            "scale_attn_weights": self.scale,
            "resid_pdrop": 0.0,
            "embd_pdrop": 0.0,
            "attn_pdrop": 0.0,
            "initializer_range": 0.02,
            "tie_word_embeddings": True,
            "bos_token_id": 0,
            "eos_token_id": 1,
        }

    def as_dict(self):
        return asdict(self)


def param_shapes(c):  # Config -> {GPT-2 tensor name: shape}
    shapes = {"wte.weight": (c.n_vocab, c.d_model), "wpe.weight": (c.n_pos, c.d_model)}
    for i in range(c.n_layer):
        p = f"h.{i}."
        shapes |= {
            p + "ln_1.weight": (c.d_model,),
            p + "ln_1.bias": (c.d_model,),
            p + "attn.c_attn.weight": (c.d_model, 3 * c.d_model),  # W_q | W_k | W_v, Conv1D layout [n_in, n_out]
            p + "attn.c_attn.bias": (3 * c.d_model,),
            p + "attn.c_proj.weight": (c.d_model, c.d_model),
            p + "attn.c_proj.bias": (c.d_model,),
            p + "ln_2.weight": (c.d_model,),
            p + "ln_2.bias": (c.d_model,),
            p + "mlp.c_fc.weight": (c.d_model, c.d_ff),
            p + "mlp.c_fc.bias": (c.d_ff,),
            p + "mlp.c_proj.weight": (c.d_ff, c.d_model),
            p + "mlp.c_proj.bias": (c.d_model,),
        }
    return shapes | {"ln_f.weight": (c.d_model,), "ln_f.bias": (c.d_model,)}


def init_params(c, rng):  # Config, np.random.Generator -> {name: float32 array}
    """Embeddings N(0, 0.02) as GPT-2; matrices N(0, 1/n_in) (GPT-2's 0.02 is 1/√n_in for n_in = 2500: at
    d_model 64 it would leave every attention score near 0 for a long time), residual projections also ÷√(2·n_layer)."""
    params = {}
    for name, shape in param_shapes(c).items():
        if name.endswith("ln_1.weight") or name.endswith("ln_2.weight") or name == "ln_f.weight":
            params[name] = np.ones(shape, np.float32)
        elif name.endswith(".bias"):
            params[name] = np.zeros(shape, np.float32)
        else:
            std = 0.02 if name in ("wte.weight", "wpe.weight") else 1 / np.sqrt(shape[0])
            std /= np.sqrt(2 * c.n_layer) if name.endswith("c_proj.weight") else 1
            params[name] = (std * rng.standard_normal(shape)).astype(np.float32)
    return params


def block_forward(x, p, i, c):  # [n_batch, n_seq, d_model] -> [n_batch, n_seq, d_model], cache
    n = f"h.{i}."
    a, ln1 = L.layernorm_forward(x, p[n + "ln_1.weight"], p[n + "ln_1.bias"], c.eps)
    qkv, qkv_cache = L.linear_forward(a, p[n + "attn.c_attn.weight"], p[n + "attn.c_attn.bias"])
    heads, attn = L.attention_forward(qkv, c.n_head, c.scale)
    o, o_cache = L.linear_forward(heads, p[n + "attn.c_proj.weight"], p[n + "attn.c_proj.bias"])
    h = x + o
    m, ln2 = L.layernorm_forward(h, p[n + "ln_2.weight"], p[n + "ln_2.bias"], c.eps)
    y, mlp = L.mlp_forward(
        m, p[n + "mlp.c_fc.weight"], p[n + "mlp.c_fc.bias"], p[n + "mlp.c_proj.weight"], p[n + "mlp.c_proj.bias"]
    )
    return h + y, (ln1, qkv_cache, attn, o_cache, ln2, mlp)


def block_backward(dout, cache, i, grads, probe=None):  # [n_batch, n_seq, d_model] -> dx; fills grads of layer i
    ln1, qkv_cache, attn, o_cache, ln2, mlp = cache
    n = f"h.{i}."
    dm, *dmlp = L.mlp_backward(dout, mlp)
    for key, g in zip(("mlp.c_fc.weight", "mlp.c_fc.bias", "mlp.c_proj.weight", "mlp.c_proj.bias"), dmlp, strict=True):
        grads[n + key] = g
    dh, grads[n + "ln_2.weight"], grads[n + "ln_2.bias"] = L.layernorm_backward(dm, ln2)
    dh += dout  # the residual h + MLP(LN₂(h))
    dheads, grads[n + "attn.c_proj.weight"], grads[n + "attn.c_proj.bias"] = L.linear_backward(dh, o_cache)
    dqkv = L.attention_backward(dheads, attn, probe)
    da, grads[n + "attn.c_attn.weight"], grads[n + "attn.c_attn.bias"] = L.linear_backward(dqkv, qkv_cache)
    dx, grads[n + "ln_1.weight"], grads[n + "ln_1.bias"] = L.layernorm_backward(da, ln1)
    dx += dh  # the residual x + Attn(LN₁(x))
    return dx


def forward(params, ids, c):  # [n_batch, n_seq] int -> logits [n_batch, n_seq, n_vocab], cache
    if ids.shape[1] > c.n_pos:
        raise ValueError(f"sequences of {ids.shape[1]} tokens are longer than the model's {c.n_pos} positions")
    x = L.embedding_forward(ids, params["wte.weight"], params["wpe.weight"])
    blocks = []
    for i in range(c.n_layer):
        x, cache = block_forward(x, params, i, c)
        blocks.append(cache)
    xf, lnf = L.layernorm_forward(x, params["ln_f.weight"], params["ln_f.bias"], c.eps)
    return L.head_forward(xf, params["wte.weight"]), (ids, blocks, lnf, xf)


def backward(dlogits, cache, params, c, probe=None):  # [n_batch, n_seq, n_vocab] -> {name: gradient}, every parameter
    """probe: a list that gets ‖∂loss/∂S‖ of each layer's softmax input, last layer first."""
    ids, blocks, lnf, xf = cache
    grads = {}
    dxf, dwte_head = L.head_backward(dlogits, xf, params["wte.weight"])
    dx, grads["ln_f.weight"], grads["ln_f.bias"] = L.layernorm_backward(dxf, lnf)
    for i in reversed(range(c.n_layer)):
        dx = block_backward(dx, blocks[i], i, grads, probe)
    dwte, grads["wpe.weight"] = L.embedding_backward(dx, ids, c.n_vocab, c.n_pos)
    grads["wte.weight"] = dwte + dwte_head  # tied: the embedding and the output head share wte
    return {name: grads[name] for name in params}


def loss_and_grads(params, ids, targets, c, probe=None):  # [n_batch, n_seq] ids, targets -> loss, {name: grad}, cache
    logits, cache = forward(params, ids, c)
    loss, ce = L.cross_entropy_forward(logits, targets)
    return loss, backward(L.cross_entropy_backward(ce), cache, params, c, probe), cache


def attention_weights(cache):  # forward's cache -> [n_layer, n_batch, n_head, n_seq, n_seq]: every head's weights
    return np.stack([block[2][3] for block in cache[1]])

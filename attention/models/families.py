"""Which family file reads which model_type, and the checked tensor access they share."""

import numpy as np

from . import encoders, gpt2, llama
from .loading import CheckpointError

FAMILIES = {arch: module for module in (encoders, gpt2, llama) for arch in module.ARCHS}
ARCHS = tuple(FAMILIES)  # every supported model_type


def family(model_type):  # config.json's model_type -> the family module, or a CheckpointError naming it
    if model_type not in FAMILIES:
        raise CheckpointError(
            f"config.json has model_type {model_type!r}; supported: {ARCHS} (MiniLM is a bert, SmolLM2 a llama)"
        )
    return FAMILIES[model_type]


def float32(a):  # -> contiguous float32 array
    return np.ascontiguousarray(a, dtype=np.float32)


class Tensors:
    """The checkpoint's tensors under one prefix ("bert.", "transformer.", "model.", or none), checked by shape."""

    def __init__(self, tensors, config):
        self.tensors, self.arch, self.prefix = tensors, config.arch, ""

    def find_prefix(self, anchor):  # -> the prefix before `anchor`, e.g. "bert."; a CheckpointError if none
        prefix = next((k[: -len(anchor)] for k in self.tensors if k.endswith(anchor)), None)
        if prefix is None:
            raise CheckpointError(f"model.safetensors has no tensor {anchor!r}: not a {self.arch} checkpoint")
        self.prefix = prefix
        return self.tensors[prefix + anchor].shape

    def has(self, key, prefixed=True):  # -> bool
        return (self.prefix + key if prefixed else key) in self.tensors

    def get(self, key, shape, prefixed=True):  # the tensor `key` as float32, checked against `shape`
        full = self.prefix + key if prefixed else key
        for k in (full, full.replace(".weight", ".gamma").replace(".bias", ".beta")):
            if k in self.tensors:
                a = self.tensors[k]
                if tuple(a.shape) != tuple(shape):
                    raise CheckpointError(
                        f"model.safetensors: {k} has shape {tuple(a.shape)}; expected {tuple(shape)} for this config"
                    )
                return float32(a)
        raise CheckpointError(f"model.safetensors lacks tensor {full!r} (needed by this {self.arch} config)")

    def linear(self, key, n_in, n_out, bias=True, transposed=False, prefixed=True):  # -> (w [n_out, n_in], b)
        """torch's Linear layout [n_out, n_in]; GPT-2's Conv1D is stored [n_in, n_out] (transposed=True)."""
        w = self.get(key + ".weight", (n_in, n_out) if transposed else (n_out, n_in), prefixed)
        b = self.get(key + ".bias", (n_out,), prefixed) if bias else np.zeros(n_out, np.float32)
        return (float32(w.T) if transposed else w), b

    def norm(self, key, d, bias=True, prefixed=True):  # -> (gain [d], bias [d]) of a LayerNorm, or (gain,) of RMSNorm
        gain = self.get(key + ".weight", (d,), prefixed)
        return (gain, self.get(key + ".bias", (d,), prefixed)) if bias else (gain,)

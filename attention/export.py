"""A Run as plain arrays, written to .npz (numpy) or .json (any language), for scripts, notebooks and papers.

Keys (the same in both formats):
  tokens     [n_seq] str                             the tokens as the model sees them
  attention  [n_layer, n_head, n_seq, n_seq] float32 softmax weights; each row sums to 1 (0 if fully masked)
  scores     [n_layer, n_head, n_seq, n_seq] float32 raw QKᵀ (or cosine), before scaling, masking, softmax
  queries, keys, values  [n_layer, n_head, n_seq, d_head] float32
  hidden     [n_layer + 1, n_seq, d_model] float32   hidden[0] = input embeddings; lecture model: hidden[s]
                                                      is the state after s pull steps
  mask       [n_seq, n_seq] bool                     True where a query may look at a key
  special, unknown  [n_seq] bool                     [CLS]/[SEP]-like tokens; lecture words not in the vocabulary
  model      str; settings: dict (in .npz a JSON string); notices: [str] what the user was told (truncation, ...)
  models with an output head only (Run.predictions; kind "next" for decoders, "mask" for MLM encoders):
  top_ids    [n_seq, 20] int64 / top_probs [n_seq, 20] float32   the 20 likeliest tokens at each position
  top_tokens [n_seq, 20] str; entropy [n_seq] float32 (nats); prediction_kind: str ("next" | "mask")
  logits     [n_seq, vocab] float32                   only with --full-logits (full_logits=True)
  shapes     (.json only) {key: shape} of every array above
With `--with norms,rollout` (attention.flow_models.export_arrays):
  value_norms        [n_layer, n_head, n_seq, n_seq] float32  ‖α^h_ij f^h(x_j)‖ (Kobayashi et al. 2020), per head
  value_norms_layer  [n_layer, n_seq, n_seq] float32          ‖Σ_h α^h_ij f^h(x_j)‖, per layer
  rollout            [n_layer, n_seq, n_seq] float32          rollout[l] = R_{l+1} (Abnar & Zuidema 2020)
"""

import io
import json
import re
from pathlib import Path

import numpy as np

from .run import raw_scores

FORMATS = (".npz", ".json")
ARRAYS = ("attention", "scores", "queries", "keys", "values", "hidden", "mask", "special", "unknown")
PREDICTED = ("top_ids", "top_probs", "entropy", "logits")  # arrays present only when the Run predicts


def arrays_of(data):  # -> the array keys this export holds, in order
    return [*ARRAYS, *(k for k in PREDICTED if k in data)]


def prediction_arrays(pred):  # Predictions | None -> {key: array or list}
    if pred is None:
        return {}
    out = {
        "top_ids": np.asarray(pred.top_ids, dtype=np.int64),
        "top_probs": np.asarray(pred.top_probs, dtype=np.float32),
        "entropy": np.asarray(pred.entropy, dtype=np.float32),
        "top_tokens": [[str(t) for t in row] for row in pred.top_tokens],
        "prediction_kind": str(pred.kind),
    }
    return out | ({} if pred.logits is None else {"logits": np.asarray(pred.logits, dtype=np.float32)})


def run_settings(run, settings=None):  # (Run, dict | None) -> dict of plain JSON values
    """What the Run records about how it was computed, plus the caller's own settings (which win)."""
    recorded = {"temperature": float(run.temperature), "similarity": run.similarity, "scale": bool(run.scale)}
    extra = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in (settings or {}).items()}
    return recorded | extra


def run_to_arrays(run, settings=None):  # Run -> {key: list[str] | np.ndarray | str | dict | list}
    """Every exported key (see the module docstring for shapes); arrays are float32 or bool."""
    n_seq = run.n_seq
    flags = {name: getattr(run, name) for name in ("special", "unknown")}
    return {
        "tokens": [str(t) for t in run.tokens],
        "attention": np.asarray(run.weights, dtype=np.float32),
        "scores": raw_scores(run),
        "queries": np.asarray(run.queries, dtype=np.float32),
        "keys": np.asarray(run.keys, dtype=np.float32),
        "values": np.asarray(run.values, dtype=np.float32),
        "hidden": np.asarray(run.hidden, dtype=np.float32),
        "mask": np.ones((n_seq, n_seq), bool) if run.mask is None else np.asarray(run.mask, dtype=bool),
        **{k: np.zeros(n_seq, bool) if v is None else np.asarray(v, dtype=bool) for k, v in flags.items()},
        "model": str(run.model),
        "settings": run_settings(run, settings),
        "notices": [str(n) for n in run.notices],
        **prediction_arrays(getattr(run, "predictions", None)),
    }


def to_npz_bytes(run, settings=None, extra=None):  # Run -> bytes of an .npz (a zip of .npy files)
    """A .npz that np.load reads without pickle; json.loads(str(f["settings"])) gives the settings.
    extra: more named float32 arrays (the `--with` keys)."""
    arrays = run_to_arrays(run, settings)
    buffer = io.BytesIO()
    np.savez(  # uncompressed: float32 noise barely compresses, and zlib took ~20 s at 512 tokens of MiniLM
        buffer,
        tokens=np.array(arrays["tokens"], dtype=str),
        model=np.array(arrays["model"]),
        settings=np.array(json.dumps(arrays["settings"])),
        notices=np.array(arrays["notices"], dtype=str),
        **{k: np.array(arrays[k], dtype=str) for k in ("top_tokens", "prediction_kind") if k in arrays},
        **{k: arrays[k] for k in arrays_of(arrays)},
        **(extra or {}),
    )
    return buffer.getvalue()


def json_numbers(a):  # np.ndarray -> str: nested JSON lists
    """Floats with 9 significant digits, which give back the same float32 exactly; NaN/inf become null."""
    a = np.asarray(a)
    if a.dtype == bool or a.size == 0 or a.ndim == 0:
        return json.dumps(a.astype(bool if a.dtype == bool else float).tolist())
    n = a.shape[-1]
    row = "[" + ",".join(["%.9g"] * n) + "]"  # one C-level format per row: ~3x faster than json.dumps
    rows = [row % tuple(r) for r in a.astype(np.float32).reshape(-1, n).tolist()]
    if not np.isfinite(a).all():
        rows = [re.sub(r"-?(?:nan|inf)", "null", r) for r in rows]
    for size in reversed(a.shape[:-1]):  # group the rows into nested lists, innermost first
        rows = ["[" + ",".join(rows[i : i + size]) + "]" for i in range(0, len(rows), size)]
    return rows[0]


def to_json_bytes(run, settings=None, extra=None):  # Run -> UTF-8 bytes of one JSON object
    """One JSON object: the metadata first, then each array as nested lists of floats (or booleans)."""
    arrays = run_to_arrays(run, settings) | (extra or {})
    numbers = [*arrays_of(arrays), *(extra or {})]
    keys = ("model", "settings", "tokens", "notices", "prediction_kind", "top_tokens")
    head = {k: arrays[k] for k in keys if k in arrays}
    head["shapes"] = {k: list(arrays[k].shape) for k in numbers}
    parts = [f'  "{k}": {json.dumps(v, ensure_ascii=False)}' for k, v in head.items()]
    parts += [f'  "{k}": {json_numbers(arrays[k])}' for k in numbers]
    return ("{\n" + ",\n".join(parts) + "\n}\n").encode("utf-8")


BYTES_PER_FLOAT = {".npz": 4, ".json": 13}  # float32; "%.9g" and a comma: 13.0 on average in a MiniLM run
BYTES_PER_BOOL = {".npz": 1, ".json": 6}  # "false," or "true,"


def n_values(run):  # Run -> (floats, booleans) the exported arrays hold
    n_seq, lhn = run.n_seq, run.n_layer * run.n_head * run.n_seq
    pred = getattr(run, "predictions", None)
    predicted = 0 if pred is None else 41 * n_seq + (0 if pred.logits is None else pred.logits.size)
    return 2 * lhn * n_seq + 3 * lhn * run.d_head + run.hidden.size + predicted, n_seq * n_seq + 2 * n_seq


def estimated_size(run, suffix):  # (Run, ".npz" | ".json") -> bytes of the file, from the shapes (nothing is built)
    """About how large the file would be. A 512-token MiniLM run: ~558 MB of .json (~19 s and ~2 GB to write) and
    171 MB of .npz (under a second). Zeros take fewer bytes than 13 in .json, so its estimate errs high."""
    floats, bools = n_values(run)
    return floats * BYTES_PER_FLOAT[suffix] + bools * BYTES_PER_BOOL[suffix]


def check_format(path):  # str | Path -> ".npz" | ".json"
    """The format is chosen by the file's extension; anything else is refused with the choices."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"cannot tell the format of {str(path)!r}: the file name must end in .npz or .json")
    return suffix


def write(run, path, settings=None, extra=None):  # (Run, str | Path) -> Path written
    """Write the Run (and any extra named arrays) to `path` as .npz or .json, chosen by the extension."""
    suffix = check_format(path)
    data = to_npz_bytes(run, settings, extra) if suffix == ".npz" else to_json_bytes(run, settings, extra)
    path = Path(path)
    path.write_bytes(data)
    return path


def load(path):  # str | Path -> dict with the same keys as run_to_arrays (arrays as numpy)
    """Read back a file written by `write` (no pickle), for notebooks and tests."""
    suffix = check_format(path)
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as f:
            data = {k: f[k] for k in f.files}
        data["tokens"], data["notices"] = data["tokens"].tolist(), data["notices"].tolist()
        data["model"], data["settings"] = str(data["model"]), json.loads(str(data["settings"]))
        if "top_tokens" in data:
            data["top_tokens"], data["prediction_kind"] = data["top_tokens"].tolist(), str(data["prediction_kind"])
        return data
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    shapes = data.pop("shapes")
    for k in shapes:
        dtype = bool if k in ("mask", "special", "unknown") else np.int64 if k == "top_ids" else np.float32
        data[k] = np.array(data[k], dtype=dtype).reshape(shapes[k])
    return data

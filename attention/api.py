"""The notebook API: `run` a model, `show` a view of the Run, `from_arrays` / `load` for attention made elsewhere.

import attention
r = attention.run("lecture", "she ate a sweet apple", n_head=4, preset="designed")
attention.show(r, "heads", layer=0)          # a plotly Figure; Jupyter draws it
"""

import numpy as np

from .run import Run


def run(model, text, **settings):  # -> Run: weights [n_layer, n_head, n_seq, n_seq], hidden [n_layer+1, n_seq, d_model]
    """Run `text` through `model` ("lecture", "minilm", "bert", "distilbert", "roberta", "gpt2"; see
    `attention.registry.model_names()`). Settings: temperature, similarity ("dot" | "cosine"), max_tokens; real
    models also hide_special and model_dir (a local checkpoint folder); the lecture model n_head, preset
    ("identity" | "random" | "designed"), alpha, steps, causal, seed."""
    from . import registry

    if not isinstance(text, str) or not text.strip():
        raise ValueError('text must be a non-empty string, e.g. attention.run("lecture", "she ate a sweet apple")')
    if model not in registry.model_names():
        raise ValueError(f"unknown model {model!r}; pass one of {registry.model_names()}")
    try:
        return registry.run(model, text, **settings)
    except TypeError as e:  # an unknown keyword for the lecture model
        raise ValueError(f"{e}; see help(attention.run) for the settings each model takes") from None


def show(run, view="weights", **options):  # (Run, str) -> plotly go.Figure
    """The figure a page shows, for one Run. Views: weights (one head [n_seq, n_seq]), stages (QKᵀ to softmax),
    heads (every head of a layer), pull (tokens before -> after attention, in PCA), steps (Q, K, V, ... with
    numbers); see `attention.views.VIEWS`. Options: layer, head, present (projector fonts) and each view's own
    (stage, word, k, part)."""
    from . import views

    if not isinstance(run, Run):
        raise TypeError(f"show takes a Run from attention.run(...) or attention.from_arrays(...), not {type(run)}")
    if view not in views.VIEWS:
        raise ValueError(f"unknown view {view!r}; pass one of {list(views.VIEWS)}")
    spec = views.VIEWS[view]
    missing = [f for f in spec.needs if getattr(run, f).size == 0]
    if missing:
        raise ValueError(f"view {view!r} needs {missing}, which this run lacks: pass them to from_arrays "
                         f"(shapes in its help), or show 'weights' or 'heads'")  # fmt: skip
    if "layer" in options and options["layer"] is not None:
        options["layer"] = views.check_index("layer", options["layer"], run.n_layer)
    if "head" in options and options["head"] is not None:
        options["head"] = views.check_index("head", options["head"], run.n_head)
    try:
        return spec.build(run, **options)
    except TypeError as e:  # an option this view does not take
        raise ValueError(f"{e}; view {view!r}: {spec.doc}") from None


def stacked(name, a):  # array, torch tensor, or a tuple of per-layer tensors -> np.ndarray float32
    if isinstance(a, (list, tuple)) and a and not np.isscalar(a[0]):
        a = [stacked(name, x) for x in a]
    elif hasattr(a, "detach"):  # torch
        a = a.detach().float().cpu().numpy()
    try:
        return np.asarray(a, dtype=np.float32)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numbers (an array, a tensor or a list of per-layer tensors)") from None


def layered(name, a, tail_ndim):  # [..., *tail] with 1-3 leading dims -> [n_layer, n_head, *tail]
    a = np.squeeze(a, axis=1) if a.ndim == tail_ndim + 3 and a.shape[1] == 1 else a  # transformers' batch of 1
    while a.ndim < tail_ndim + 2:
        a = a[None]
    if a.ndim != tail_ndim + 2:
        raise ValueError(f"{name} must have {tail_ndim} to {tail_ndim + 2} dimensions (got shape {list(a.shape)})")
    return a


def from_arrays(weights, tokens, queries=None, keys=None, values=None, hidden=None, model="arrays", mask=None):
    """A Run from your own arrays, like BertViz's head_view(attention, tokens). weights: [n_seq, n_seq],
    [n_head, n_seq, n_seq] or [n_layer, n_head, n_seq, n_seq] (a numpy array, a torch tensor, or transformers'
    `outputs.attentions`: a tuple of n_layer [1, n_head, n_seq, n_seq]); tokens: n_seq strings. Optional:
    queries, keys, values [n_layer, n_head, n_seq, d_head] (for the stages and steps views), hidden
    [n_layer + 1, n_seq, d_model] (for the pull view), mask [n_seq, n_seq] bool."""
    tokens = [str(t) for t in tokens] if not isinstance(tokens, str) else None
    if not tokens:
        raise ValueError("tokens must be a list of n_seq strings, e.g. ['the', 'cat', 'sat']")
    w = layered("weights", stacked("weights", weights), 2)
    n_layer, n_head, n_seq = w.shape[0], w.shape[1], len(tokens)
    if w.shape[2:] != (n_seq, n_seq):
        raise ValueError(f"weights end in {list(w.shape[2:])}, but there are {n_seq} tokens: pass "
                         f"weights [..., {n_seq}, {n_seq}] or the tokens they belong to")  # fmt: skip
    given = {"queries": queries, "keys": keys, "values": values}
    qkv = {}
    for name, a in given.items():
        a = None if a is None else layered(name, stacked(name, a), 2)
        if a is not None and a.shape[:3] != (n_layer, n_head, n_seq):
            raise ValueError(
                f"{name} must be [{n_layer}, {n_head}, {n_seq}, d_head] like weights (got {list(a.shape)})"
            )
        qkv[name] = a
    if any(a is None for a in qkv.values()) and any(a is not None for a in qkv.values()):
        raise ValueError("pass queries, keys and values together (or none of them)")
    d_head = 0 if qkv["queries"] is None else qkv["queries"].shape[-1]
    qkv = {k: np.zeros((n_layer, n_head, n_seq, d_head), np.float32) if a is None else a for k, a in qkv.items()}
    h = np.zeros((n_layer + 1, n_seq, 0), np.float32) if hidden is None else stacked("hidden", hidden)
    if h.ndim != 3 or h.shape[:2] != (n_layer + 1, n_seq):
        raise ValueError(f"hidden must be [n_layer + 1 = {n_layer + 1}, {n_seq}, d_model] (got {list(h.shape)})")
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (n_seq, n_seq):
            raise ValueError(f"mask must be [{n_seq}, {n_seq}] bool, True where a query may look at a key")
    attn_out = np.zeros((n_layer, n_seq, 0), np.float32)  # not known from these arrays: the steps view leaves it out
    return Run(model=model, tokens=tokens, weights=w, hidden=h, attn_out=attn_out, mask=mask, **qkv)


def load(path):  # str | Path -> Run, from a file `python -m attention export` or attention.export.write wrote
    """Read an exported .npz or .json back as a Run, ready for `show`."""
    from . import export

    data = export.load(path)
    mask = None if data["mask"].all() else data["mask"]  # an export writes "no mask" as all allowed
    run = from_arrays(data["attention"], data["tokens"], data["queries"], data["keys"], data["values"],
                      data["hidden"], model=data["model"], mask=mask)  # fmt: skip
    settings = data.get("settings") or {}
    run.temperature = float(settings.get("temperature", 1.0))
    run.similarity = settings.get("similarity", "dot")
    run.scale = bool(settings.get("scale", True))
    run.special, run.unknown, run.notices = data["special"], data["unknown"], list(data["notices"])
    return run

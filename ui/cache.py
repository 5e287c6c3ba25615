"""The one cached way to run the backend: `get_run(settings, weights=None) -> Run`.

The cache key holds only what changes the Run (text, model and the model's own settings), never the layer,
head or presentation mode, so moving a slider that only picks what to show costs nothing. The cache is
bounded (max_entries) so many distinct sentences cannot grow memory without limit.
Runs are cached as shared resources, not copies: st.cache_data would unpickle a fresh copy on every rerun of
every session (100 MB and 0.4 s for MiniLM at 512 tokens), so their arrays are made read-only instead.
"""

import hashlib

import numpy as np
import streamlit as st

from attention import registry

LECTURE = ("n_head", "preset", "alpha", "steps", "temperature", "causal", "similarity")
REAL = ("temperature", "similarity", "hide_special")  # a real model's causality is its own (GPT-2 is causal)
MAX_ENTRIES = 64
REFERENCE_PER_AXIS = 5  # reference words per meaning axis in the pull's background (as on /pull)
MAX_RUNS = 8  # shared Runs kept; one MiniLM run at 512 tokens holds ~100 MB, so at most ~0.8 GB
MAX_TOKENS = 512  # tokens a real model reads here: Llama-family models could read 8192 to 32768, too many to draw


def run_options(settings):  # Settings -> tuple of (name, value): the backend keyword arguments, hashable
    """The settings that change what the model computes, as a small hashable key."""
    names = LECTURE if settings.model == registry.LECTURE else REAL
    return tuple((name, getattr(settings, name)) for name in names)


def weights_digest(weights):  # {name: array} | None -> str: a content hash of edited weight matrices
    """Edited matrices (the /steps page) hashed by their bytes, shape and dtype, in name order."""
    if not weights:
        return ""
    h = hashlib.blake2b(digest_size=16)
    for name in sorted(weights):
        a = np.ascontiguousarray(weights[name])
        h.update(f"{name}:{a.dtype.str}:{a.shape};".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def read_only(run):  # Run -> the same Run, its arrays read-only: one cached object is shared by every session
    for value in vars(run).values():
        if isinstance(value, np.ndarray):
            value.flags.writeable = False
    return run


@st.cache_resource(max_entries=MAX_RUNS, show_spinner=False)
def _cached_run(model, text, options, digest, _weights):  # -> Run; _weights is keyed by `digest`
    extra = {"weights": _weights} if _weights else {"max_tokens": MAX_TOKENS} if model != registry.LECTURE else {}
    run = registry.run(model, text, **dict(options), **extra)
    if any(f"max_tokens is {MAX_TOKENS}" in n for n in run.notices):
        run.notices.append(f"The dashboard reads at most {MAX_TOKENS} tokens, so that every page stays quick. For more, "
                           f"export the run: `python -m attention export --model {model} --max-tokens N ...`.")  # fmt: skip
    return read_only(run)


def get_run(settings, weights=None):  # (Settings, {name: array} | None) -> Run
    """Run the backend for these settings (cached). Raises ValueError with a message meant for the page."""
    weights = dict(weights) if weights else None
    return _cached_run(settings.model, settings.text, run_options(settings), weights_digest(weights), weights)


@st.cache_resource(max_entries=MAX_RUNS, show_spinner=False)
def _cached_entropy(model, text, options):  # -> [n_layer, n_head] float32, read-only
    from attention.figures.heads import mean_entropy

    out = mean_entropy(_cached_run(model, text, options, "", None).weights)
    out.flags.writeable = False
    return out


def get_mean_entropy(settings):  # -> [n_layer, n_head]: each head's mean row entropy (bits), cached with the run
    """/heads' overview of every layer: 6 × 12 × 512² weights at 512 MiniLM tokens, so computed once per run."""
    return _cached_entropy(settings.model, settings.text, run_options(settings))


@st.cache_resource(max_entries=MAX_RUNS, show_spinner=False)
def _cached_trace(model, text, layer):  # -> (layer_trace dict, [n_seq] bool kept): one layer's norms and MLP
    from attention.models import encode, layer_trace, load

    ckpt = load(model)
    ids, type_ids, _, special, _ = encode(ckpt, text, MAX_TOKENS)
    trace = {k: v.astype(np.float32) for k, v in layer_trace(ckpt, ids, layer, type_ids).items()}
    for a in (*trace.values(), special):  # shared by every session, as the Runs are
        a.flags.writeable = False
    return trace, special


def get_trace(settings, layer):  # -> ({step: [n_seq, ·]}, special [n_seq] bool) of a real model's layer (cached)
    """The /steps walk-through's real numbers: norms and MLP of `layer` (models.layer_trace), tokens as the Run's
    before hide_special (drop the rows where `special` is True to match a Run that hides them)."""
    return _cached_trace(settings.model, settings.text, layer)


@st.cache_data(max_entries=MAX_ENTRIES, show_spinner=False)
def _cached_pull(model, text, options, k):  # -> (paths, reference points | None, words, groups, evr)
    from attention.pull import pca_trajectories

    run = _cached_run(model, text, options, "", None)
    if model != registry.LECTURE:
        paths, _, evr = pca_trajectories(run.hidden, n_components=k)
        return paths, None, [], [], evr
    from attention.figures.meanings import lecture_projection

    # the meaning axes only, and the sentence's own topics (as /pull), not all sixteen clusters
    return lecture_projection(run, k, per_axis=REFERENCE_PER_AXIS)


def get_pull(settings, k=2):  # -> (paths [n_layer+1, n_seq, k], reference [n_ref, k] | None, words, groups, evr [k])
    """Every token's path through the layers in one PCA (lecture model: with reference words), cached."""
    return _cached_pull(settings.model, settings.text, run_options(settings), k)

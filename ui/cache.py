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
    extra = {"weights": _weights} if _weights else {}
    return read_only(registry.run(model, text, **dict(options), **extra))


def get_run(settings, weights=None):  # (Settings, {name: array} | None) -> Run
    """Run the backend for these settings (cached). Raises ValueError with a message meant for the page."""
    weights = dict(weights) if weights else None
    return _cached_run(settings.model, settings.text, run_options(settings), weights_digest(weights), weights)


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

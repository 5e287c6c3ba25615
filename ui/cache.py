"""The one cached way to run the backend: `get_run(settings, weights=None) -> Run`.

The cache key holds only what changes the Run (text, model and the model's own settings), never the layer,
head or presentation mode, so moving a slider that only picks what to show costs nothing. The cache is
bounded (max_entries) so many distinct sentences cannot grow memory without limit.
"""

import hashlib

import numpy as np
import streamlit as st

from attention import registry

LECTURE_ONLY = ("n_head", "preset", "alpha", "steps")  # real checkpoints ignore these
SHARED = ("temperature", "causal", "similarity")
MAX_ENTRIES = 64


def run_options(settings):  # Settings -> tuple of (name, value): the backend keyword arguments, hashable
    """The settings that change what the model computes, as a small hashable key."""
    names = SHARED + (LECTURE_ONLY if settings.model == registry.LECTURE else ("hide_special",))
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


@st.cache_data(max_entries=MAX_ENTRIES, show_spinner=False)
def _cached_run(model, text, options, digest, _weights):  # -> Run; _weights is keyed by `digest`
    extra = {"weights": _weights} if _weights else {}
    return registry.run(model, text, **dict(options), **extra)


def get_run(settings, weights=None):  # (Settings, {name: array} | None) -> Run
    """Run the backend for these settings (cached). Raises ValueError with a message meant for the page."""
    weights = dict(weights) if weights else None
    return _cached_run(settings.model, settings.text, run_options(settings), weights_digest(weights), weights)

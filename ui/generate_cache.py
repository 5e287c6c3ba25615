"""The /generate page's cached generation: one Generation per (model, prompt, max_new_tokens, sampling), shared
by every session, so a shared link shows the identical text without generating it again.

Not st.cache_*: those would record the page's streaming text (drawn from inside the generation) and replay it
into a block that no longer exists. A small shared LRU of our own instead."""

import threading
from collections import OrderedDict

import streamlit as st

from attention.generate import Sampling, generate
from attention.models import loading

MAX_ENTRIES = 32  # a 64-token GPT-2 generation keeps ~64 rows of 12 x 12 x n_seq weights: small


@st.cache_resource(show_spinner=False)
def _store():  # -> (OrderedDict key -> Generation, lock), one per server
    return OrderedDict(), threading.Lock()


def generation(model, prompt, max_new_tokens, sampling: Sampling, on_step=None):  # -> Generation (cached)
    """Raises ValueError (an encoder, an empty or too long prompt) and ModelUnavailable with messages for the page.
    on_step(gen) sees each step of a generation that is computed now (not of one found in the cache)."""
    ckpt = loading.load(model)
    key = (model, str(ckpt.path), prompt, max_new_tokens, sampling)
    store, lock = _store()
    with lock:
        if key in store:
            store.move_to_end(key)
            return store[key]
    gen = generate(ckpt, prompt, max_new_tokens, sampling, on_step=on_step)
    with lock:
        store[key] = gen
        while len(store) > MAX_ENTRIES:
            store.popitem(last=False)
    return gen


def tokenizer(model):  # -> the model's tokenizers.Tokenizer (the checkpoint is cached by loading.load_dir)
    return loading.load(model).tokenizer


def start():  # on_click of the Generate button (a callback runs before the rerun, so no rerun loses the click)
    st.session_state["gen_on"] = True

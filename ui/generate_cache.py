"""The /generate page's cached generation: one Generation per (model, prompt, max_new_tokens, sampling), shared
by every session, so a shared link shows the identical text without generating it again."""

import streamlit as st

from attention.generate import Sampling, generate
from attention.models import loading

MAX_ENTRIES = 32  # a 64-token GPT-2 generation keeps ~64 rows of 12 x 12 x n_seq weights: small


@st.cache_resource(max_entries=MAX_ENTRIES, show_spinner=False)
def _generation(model, prompt, max_new_tokens, sampling, _on_step):  # -> Generation; _on_step is not in the key
    return generate(loading.load(model), prompt, max_new_tokens, sampling, on_step=_on_step)


def generation(model, prompt, max_new_tokens, sampling: Sampling, on_step=None):  # -> Generation (cached)
    """Raises ValueError (an encoder, an empty or too long prompt) and ModelUnavailable with messages for the page."""
    return _generation(model, prompt, max_new_tokens, sampling, on_step)


def tokenizer(model):  # -> the model's tokenizers.Tokenizer (the checkpoint is cached by loading.load_dir)
    return loading.load(model).tokenizer


def start():  # on_click of the Generate button (a callback runs before the rerun, so no rerun loses the click)
    st.session_state["gen_on"] = True

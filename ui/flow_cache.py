"""Cached backend calls of /flow and /geometry: value norms per layer, rollout, and switching heads off.

Keyed like ui.cache (model, text and the model's own settings), plus the layer, token or head they are about.
Always on every token the model saw: special tokens are never hidden here (value norms, rollout and ablation
describe the model's own computation).
"""

from dataclasses import replace

import streamlit as st

from attention import checkpoint, flow, flow_models, registry
from ui import cache

MAX_ENTRIES = 32


def full_settings(settings):  # Settings -> the same with every token kept
    return replace(settings, hide_special=False)


def key(settings):  # -> (model, text, options): what identifies the run
    full = full_settings(settings)
    return full.model, full.text, cache.run_options(full)


def _run(model, text, options):  # -> the cached Run (ui.cache shares it)
    return cache._cached_run(model, text, options, "", None)


def _ckpt(model):
    return None if model == registry.LECTURE else checkpoint.load(model)


@st.cache_data(max_entries=MAX_ENTRIES, show_spinner=False)
def _layer_flow(model, text, options, layer):
    run = _run(model, text, options)
    return flow_models.layer_flow(run, flow_models.parts_for(run, model, dict(options)), layer)


def layer_flow(settings, layer):  # -> (per head [n_head, n_seq, n_seq], per layer [n_seq, n_seq], ‖f‖ [n_head, n_seq])
    return _layer_flow(*key(settings), layer)


@st.cache_data(max_entries=MAX_ENTRIES, show_spinner=False)
def _rollout(model, text, options):
    return flow.rollout(_run(model, text, options).weights)


def rollout(settings):  # -> [n_layer, n_seq, n_seq]
    return _rollout(*key(settings))


def ablation(model, text, options, token):  # -> flow_models.Ablation (cheap to build; its effects are cached below)
    run = _run(model, text, options)
    lecture = (text, dict(options)) if model == registry.LECTURE else None
    return flow_models.Ablation(run, token, _ckpt(model), lecture)


def grid_token(settings, token):  # -> the token the ablation effect depends on (None: the whole sentence)
    model = settings.model
    return None if model != registry.LECTURE and not _causal(model) else token


def _causal(model):
    return checkpoint.load(model).config.causal


@st.cache_data(max_entries=MAX_ENTRIES, show_spinner=False)
def _grid(model, text, options, token):
    return ablation(model, text, options, token or 0).grid()


def grid(settings, token):  # -> [n_layer, n_head] effect of switching each head off
    return _grid(*key(settings), grid_token(settings, token))


@st.cache_data(max_entries=MAX_ENTRIES, show_spinner=False)
def _one(model, text, options, token, layer, head):
    ab = ablation(model, text, options, token or 0)
    return ab.effect(layer, head), ab.predictions(), ab.predictions(layer, head)


def one_head(settings, token, layer, head):  # -> (effect, predictions before | None, predictions after | None)
    return _one(*key(settings), grid_token(settings, token), layer, head)

"""Cached backend calls of /flow and /geometry: value norms per layer, rollout, and switching heads off.

Keyed like ui.cache (model, text and the model's own settings), plus the layer, token or head they are about.
Always on every token the model saw: special tokens are never hidden here (value norms, rollout and ablation
describe the model's own computation).
"""

from dataclasses import replace

import streamlit as st

from attention import flow, flow_models, models, registry
from ui import cache

MAX_ENTRIES = 32


def full_settings(settings):  # Settings -> the same with every token kept
    return replace(settings, hide_special=False)


def key(settings):  # -> (model, text, options): what identifies the run
    full = full_settings(settings)
    return full.model, full.text, cache.run_options(full)


def _run(model, text, options):  # -> the cached Run (ui.cache shares it)
    return cache._cached_run(model, text, options, "", None)


def _ckpt(model):  # -> the Checkpoint (the loader's own cache; an ATTENTION_MODEL_DIR_* folder when set), or None
    return None if model == registry.LECTURE else models.load(model)


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
    return flow_models.Ablation(run, token, _ckpt(model), text, dict(options) if model == registry.LECTURE else None)


def grid_token(settings, token):  # -> the token the ablation effect depends on (None: the whole sentence)
    model, text, options = key(settings)
    kind = flow_models.effect_kind(_run(model, text, options), lecture=model == registry.LECTURE)
    return None if kind == "cosine" else token


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

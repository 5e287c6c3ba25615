"""Attention, visible: the backend (plain numpy, no Streamlit) and its notebook API.

    import attention
    r = attention.run("lecture", "she ate a sweet apple", n_head=4, preset="designed")  # -> Run
    attention.show(r, "heads")                               # -> plotly Figure (views: attention.views.VIEWS)
    attention.from_arrays(weights, tokens)                   # your own [n_layer, n_head, n_seq, n_seq] -> Run
    attention.load("run.npz")                                # an export read back -> Run

Importing this package is cheap: plotly, the figures and the models load on first use.
"""

# `attention.run` is the function; the module attention/run.py stays importable (`from attention.run import stages`)
from .api import from_arrays, load, run, show
from .core import attention, causal_mask, key_mask, merge_heads, multi_head_attention, softmax, split_heads
from .run import Run, raw_scores, stages

__all__ = [
    "Run",
    "attention",
    "causal_mask",
    "from_arrays",
    "key_mask",
    "load",
    "merge_heads",
    "multi_head_attention",
    "raw_scores",
    "run",
    "show",
    "softmax",
    "split_heads",
    "stages",
]

LAZY = {"views", "export", "registry", "figure_file"}  # submodules reached as attention.views, ... on first use


def __getattr__(name):
    if name in LAZY:
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'attention' has no attribute {name!r}")

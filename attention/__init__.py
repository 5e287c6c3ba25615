"""The attention backend: plain numpy, no Streamlit. Usable from a notebook, a script or the dashboard."""

from .core import attention, causal_mask, key_mask, merge_heads, multi_head_attention, softmax, split_heads
from .run import Run, raw_scores, stages

__all__ = [
    "Run",
    "attention",
    "causal_mask",
    "key_mask",
    "merge_heads",
    "multi_head_attention",
    "raw_scores",
    "softmax",
    "split_heads",
    "stages",
]

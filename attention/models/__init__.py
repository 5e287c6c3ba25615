"""Real checkpoints in plain numpy: one file per family (encoders, gpt2, llama) over a shared block vocabulary.

from attention.models import load, load_dir, run_checkpoint, forward, step, layer_trace, value_out, unrotate
"""

from .blocks import set_workers, unrotate
from .loading import HF_IDS, LOCAL, Checkpoint, CheckpointError, Config, ModelUnavailable, load, load_dir
from .passes import forward, kv_heads, layer_trace, step, value_out
from .runner import encode, predict, run_checkpoint

__all__ = [
    "HF_IDS", "LOCAL", "Checkpoint", "CheckpointError", "Config", "ModelUnavailable", "encode", "forward",
    "kv_heads", "layer_trace", "load", "load_dir", "predict", "run_checkpoint", "set_workers", "step", "unrotate", "value_out",
]  # fmt: skip

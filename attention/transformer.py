"""Old home of the real models' forward pass, kept for notebooks and other branches: it now lives in
attention.models (blocks, passes, runner and one file per family). WORKERS, POOL and PARALLEL_FROM are read live
from attention.models.blocks; set them there (or with set_workers)."""

from .models import blocks
from .models.blocks import (  # noqa: F401
    ACTIVATIONS,
    BLAS_LOCK,
    attend,
    blas_on_one_thread,
    gelu_,
    gelu_new_,
    half_erfc,
    layer_norm,
    linear,
    rms_norm,
    set_workers,
    spread,
)  # fmt: skip
from .models.passes import forward, layers  # noqa: F401
from .models.runner import BYTE_DECODER, byte_decoder, encode, hide, readable, run_checkpoint  # noqa: F401


def __getattr__(name):  # WORKERS, POOL, PARALLEL_FROM, CHUNK: the live values in models.blocks
    if name in ("WORKERS", "POOL", "PARALLEL_FROM", "CHUNK", "BLAS"):
        return getattr(blocks, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

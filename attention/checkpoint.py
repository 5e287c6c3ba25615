"""Old home of the loader, kept for notebooks and other branches: everything now lives in attention.models.loading
(finding and reading files) and each family file (config keys, tensor names)."""

from .models.families import ARCHS, FAMILIES, Tensors, family, float32  # noqa: F401
from .models.loading import (  # noqa: F401
    BUNDLE,
    FILES,
    HF_IDS,
    LOCAL,
    PIP,
    SHIPPED,
    Checkpoint,
    CheckpointError,
    Config,
    ModelUnavailable,
    bundle_dir,
    cache_dir,
    check_name,
    download,
    env_var,
    how_to_get,
    is_available,
    load,
    load_dir,
    locate,
    missing_files,
    named_dir,
    progress_bar,
    read_config_file,
    read_json,
    read_safetensors,
    read_tokenizer,
)  # fmt: skip

"""Which models exist and how to run text through them. The allowlist for the `model` URL parameter."""

from .models.loading import HF_IDS, LOCAL, SHIPPED, CheckpointError, is_available, load, locate, read_config_file

LECTURE = "lecture"
# Settings only the lecture model (or only the view) uses; real models accept and ignore them, so the UI can
# pass one settings dict. A real model's causality is its own: GPT-2 is causal, the encoders are not.
LECTURE_ONLY = {"n_head", "preset", "alpha", "steps", "causal", "weights", "seed", "layer", "head", "present"}
REAL_SETTINGS = {"temperature", "similarity", "hide_special", "max_tokens", "full_logits"}
NOT_LECTURE = {"hide_special", "layer", "head", "present"}  # the lecture model has no [CLS]/[SEP]; views only
DESCRIPTIONS = {
    LECTURE: "The lecture model: a small embedding with hand-set or random W_q, W_k, W_v that you can edit.",
    "tiny": "tiny: our own small GPT-2 decoder, trained in numpy on lecture-world sentences by `attention train`.",
    "minilm": "all-MiniLM-L6-v2: a 6-layer BERT encoder (12 heads, d_model 384) trained for sentence similarity.",
    "bert": "bert-base-uncased: the original 12-layer BERT encoder (12 heads, d_model 768).",
    "distilbert": "distilbert-base-uncased: BERT distilled to 6 layers (12 heads, d_model 768).",
    "roberta": "roberta-base: a 12-layer encoder like BERT, with byte-level BPE tokens (12 heads, d_model 768).",
    "gpt2": "gpt2: a 12-layer decoder (12 heads, d_model 768); causal, each token sees only the tokens before it.",
    "smollm2": "SmolLM2-135M: a small Llama-style decoder with RoPE, grouped-query attention and SwiGLU.",
    "qwen2.5": "Qwen2.5-0.5B: a Llama-style decoder with biases on q, k and v (RoPE, grouped-query attention).",
    "qwen3": "Qwen3-0.6B: a Llama-style decoder that RMS-normalises each head's q and k before RoPE.",
}
# (n_layer, n_head, n_kv_head, d_model, causal) of each real model, used when its checkpoint is not present
SIZES = {
    "tiny": (2, 4, 4, 64, True),
    "minilm": (6, 12, 12, 384, False),
    "bert": (12, 12, 12, 768, False),
    "distilbert": (6, 12, 12, 768, False),
    "roberta": (12, 12, 12, 768, False),
    "gpt2": (12, 12, 12, 768, True),
    "smollm2": (30, 9, 3, 576, True),
    "qwen2.5": (24, 14, 2, 896, True),
    "qwen3": (28, 16, 8, 1024, True),
}


def model_names():  # -> list[str]: every model name the UI and CLI may accept
    """The lecture model first, then the real checkpoints this project knows (available or not)."""
    return [LECTURE, *SHIPPED, *HF_IDS]


def available_models():  # -> list[str]: the models that run offline right now (the lecture model always)
    """The lecture model and every real model whose checkpoint can be found without the internet."""
    return [LECTURE, *(name for name in [*SHIPPED, *HF_IDS] if is_available(name))]


def sizes(name, model_dir=None):  # -> (n_layer, n_head, n_kv_head, d_model, causal) or None (the lecture model)
    """From the checkpoint's config.json when it can be found offline, else from the static table."""
    if name == LECTURE:
        return None
    try:
        c = read_config_file(model_dir if model_dir else locate(name)[0])
        return c.n_layer, c.n_head, c.n_kv_head, c.d_model, c.causal
    except (ValueError, CheckpointError, OSError):
        if name not in SIZES:
            raise
        return SIZES[name]


def describe(name, model_dir=None):  # -> str: one line about the model, for the selector's help text
    """The model in one line: what it is, then layers, heads, KV heads, d_model and whether it is causal."""
    if name not in DESCRIPTIONS and name != LOCAL:
        raise ValueError(f"unknown model {name!r}; choose one of {model_names()}")
    if name == LECTURE:
        return DESCRIPTIONS[name]
    n_layer, n_head, n_kv, d_model, causal = sizes(name, model_dir)
    kind = "causal: each token sees only the tokens before it" if causal else "not causal: each token sees every token"
    what = DESCRIPTIONS.get(name, f"a checkpoint from {model_dir}:").split(":")[0]
    return f"{what}: {n_layer} layers, {n_head} heads, {n_kv} KV heads, d_model {d_model}; {kind}."


def run(model, text, model_dir=None, **settings):  # -> Run
    """Run `text` through `model`. Real models take temperature, similarity, hide_special and max_tokens;
    model_dir (the CLI's --model-dir) names a local checkpoint folder. See lecture.run_lecture for the lecture model."""
    if model == LECTURE:
        from .lecture import run_lecture

        lecture = run_lecture(text, **{k: v for k, v in settings.items() if k not in NOT_LECTURE | {"full_logits"}})
        lecture.predictions_note = "The lecture model has no output head: it shows attention, and predicts nothing."
        return lecture
    if model not in HF_IDS and model not in SHIPPED and not (model == LOCAL and model_dir):
        raise ValueError(f"unknown model {model!r}; choose one of {model_names()}")
    if unknown := set(settings) - REAL_SETTINGS - LECTURE_ONLY:
        raise ValueError(f"unknown setting(s) {sorted(unknown)} for {model}; it takes {sorted(REAL_SETTINGS)}")
    from .models.runner import run_checkpoint

    real = {k: v for k, v in settings.items() if k in REAL_SETTINGS}
    return run_checkpoint(load(model, model_dir=model_dir), text, **real)

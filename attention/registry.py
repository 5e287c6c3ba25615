"""Which models exist and how to run text through them. The allowlist for the `model` URL parameter."""

from .checkpoint import HF_IDS, SHIPPED, is_available, load

LECTURE = "lecture"
# Settings only the lecture model (or only the view) uses; real models accept and ignore them, so the UI can
# pass one settings dict. A real model's causality is its own: GPT-2 is causal, the encoders are not.
LECTURE_ONLY = {"n_head", "preset", "alpha", "steps", "causal", "weights", "seed", "layer", "head", "present"}
REAL_SETTINGS = {"temperature", "similarity", "hide_special", "max_tokens"}
NOT_LECTURE = {"hide_special", "layer", "head", "present"}  # the lecture model has no [CLS]/[SEP]; views only
DESCRIPTIONS = {
    LECTURE: "The lecture model: a small embedding with hand-set or random W_q, W_k, W_v that you can edit.",
    "tiny": "tiny: our own 2-layer GPT-2 decoder (4 heads, d_model 64), trained in numpy on lecture-world sentences; "
    "it has induction heads and reads ambiguous words from context.",
    "minilm": "all-MiniLM-L6-v2: a 6-layer BERT encoder (12 heads, d_model 384) trained for sentence similarity.",
    "bert": "bert-base-uncased: the original 12-layer BERT encoder (12 heads, d_model 768).",
    "distilbert": "distilbert-base-uncased: BERT distilled to 6 layers (12 heads, d_model 768).",
    "roberta": "roberta-base: a 12-layer encoder like BERT, with byte-level BPE tokens (12 heads, d_model 768).",
    "gpt2": "gpt2: a 12-layer decoder (12 heads, d_model 768); causal, each token sees only the tokens before it.",
}


def model_names():  # -> list[str]: every model name the UI and CLI may accept
    """The lecture model first, then the real checkpoints this project knows (available or not)."""
    return [LECTURE, *SHIPPED, *HF_IDS]


def available_models():  # -> list[str]: the models that run offline right now (the lecture model always)
    """The lecture model and every real model whose checkpoint can be found without the internet."""
    return [LECTURE, *(name for name in [*SHIPPED, *HF_IDS] if is_available(name))]


def describe(name):  # -> str: one sentence about the model, for the selector's help text
    if name not in DESCRIPTIONS:
        raise ValueError(f"unknown model {name!r}; choose one of {model_names()}")
    return DESCRIPTIONS[name]


def run(model, text, model_dir=None, **settings):  # -> Run
    """Run `text` through `model`. Real models take temperature, similarity, hide_special and max_tokens;
    model_dir (the CLI's --model-dir) names a local checkpoint folder. See lecture.run_lecture for the lecture model."""
    if model == LECTURE:
        from .lecture import run_lecture

        return run_lecture(text, **{k: v for k, v in settings.items() if k not in NOT_LECTURE})
    if model not in HF_IDS and model not in SHIPPED:
        raise ValueError(f"unknown model {model!r}; choose one of {model_names()}")
    if unknown := set(settings) - REAL_SETTINGS - LECTURE_ONLY:
        raise ValueError(f"unknown setting(s) {sorted(unknown)} for {model}; it takes {sorted(REAL_SETTINGS)}")
    from .transformer import run_checkpoint

    real = {k: v for k, v in settings.items() if k in REAL_SETTINGS}
    return run_checkpoint(load(model, model_dir=model_dir), text, **real)

"""Which models exist and how to run text through them. The allowlist for the `model` URL parameter."""

LECTURE = "lecture"


def model_names():  # -> list[str]: every model name the UI and CLI may accept
    """The lecture model first, then the real checkpoints this project knows (available or not)."""
    return [LECTURE]


def run(model, text, **settings):  # -> Run
    """Run `text` through `model` with the given settings (see lecture.run_lecture for the lecture model)."""
    if model == LECTURE:
        from .lecture import run_lecture

        return run_lecture(text, **settings)
    raise ValueError(f"unknown model {model!r}; choose one of {model_names()}")

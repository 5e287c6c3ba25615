"""The view's settings: one frozen, hashable object that the sidebar fills and the URL mirrors."""

from dataclasses import dataclass

from attention.examples import DEFAULT_EXAMPLE, EXAMPLES


@dataclass(frozen=True)
class Settings:
    text: str = EXAMPLES[DEFAULT_EXAMPLE]  # the preset the sidebar opens with
    model: str = "lecture"  # "lecture" or an allowlisted real model name
    layer: int = 0
    head: int = 0
    n_head: int = 1  # lecture model only
    preset: str = "identity"  # lecture model only: identity | random | designed
    temperature: float = 1.0
    causal: bool = False
    similarity: str = "dot"  # dot | cosine
    alpha: float = 0.5  # context pull strength (lecture model)
    steps: int = 1  # pull steps (lecture model): one "layer" per step
    # The lecture model's defaults (attention.lecture.DEFAULTS) are the ones above: the pull is clearly visible.
    hide_special: bool = False  # real models: hide [CLS]/[SEP] and renormalise rows
    present: bool = False  # presentation mode: bigger fonts, controls collapsed

"""The view's settings: one frozen, hashable object that the sidebar fills and the URL mirrors."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    text: str = "I ate an apple and a banana"
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
    hide_special: bool = False  # real models: hide [CLS]/[SEP] and renormalise rows
    present: bool = False  # presentation mode: bigger fonts, controls collapsed

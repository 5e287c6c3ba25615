"""The pull arrow points toward the sense: for every ambiguous word in both senses (the teaching-claim sentences and
the presets), at the default settings, the followed word's arrow and the direction from it to its sense's reference
words differ by at most 20°, in the 2-D view the pages draw and in the full meaning space."""

import numpy as np
import pytest
from test_teaching_claim import CASES

from attention.examples import EXAMPLES
from attention.figures.meanings import angle_to, lecture_projection, lecture_reference, sense_centre
from attention.lecture import AXES, DEFAULTS, run_lecture

MAX_ANGLE = 20.0
PRESETS = [
    ("apple", "fruit", EXAMPLES["apple, the fruit"]),
    ("apple", "technology", EXAMPLES["apple, the company"]),
    ("bank", "river", EXAMPLES["bank of a river"]),
    ("bank", "money", EXAMPLES["bank for money"]),
]
SENTENCES = list(dict.fromkeys([*CASES, *PRESETS]))


def angles(word, sense, text, **settings):  # -> (degrees in the 2-D PCA, degrees in the 16 meaning dimensions)
    run = run_lecture(text, **{**DEFAULTS, **settings})
    i = run.tokens.index(word)
    paths, points, _, groups, _ = lecture_projection(run, k=2)
    flat = angle_to(paths[0, i], paths[-1, i], sense_centre(points, groups, sense))
    vectors, _, groups_full = lecture_reference(run.tokens, run.hidden[0], per_axis=5)
    n = len(AXES)
    full = angle_to(run.hidden[0, i, :n], run.hidden[-1, i, :n], sense_centre(vectors, groups_full, sense))
    return flat, full


@pytest.mark.parametrize(("word", "sense", "text"), SENTENCES, ids=[f"{w}-{s}-{t[:12]}" for w, s, t in SENTENCES])
def test_the_arrow_points_toward_the_sense(word, sense, text):
    flat, full = angles(word, sense, text)
    assert full <= MAX_ANGLE, f"{word!r} in {text!r}: its pull is {full:.1f}° off {sense!r} in the meaning space"
    assert flat <= MAX_ANGLE, f"{word!r} in {text!r}: its 2-D arrow is {flat:.1f}° off {sense!r}"


def test_the_angle_can_fail():
    """The measurement is not blind: the arrow of "apple" among fruit words is far from technology."""
    flat, full = angles("apple", "technology", EXAMPLES["apple, the fruit"])
    assert flat > 60 and full > 60


def test_angle_to_by_hand():
    assert angle_to([0, 0], [1, 0], [0, 2]) == pytest.approx(90.0)
    assert angle_to([1, 1], [2, 2], [5, 5]) == pytest.approx(0.0, abs=1e-5)
    assert angle_to(np.zeros(3), [1, 0, 0], [-1, 0, 0]) == pytest.approx(180.0)

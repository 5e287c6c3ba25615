"""The lecture's claim, tested: context pulls an ambiguous word toward the sense its sentence is about.

For every ambiguous word and each of its two senses, one sentence whose context picks that sense. With the
dashboard's default settings, after attention the word's cosine to that sense's direction must rise, and rise
more than its cosine to the other sense.
"""

import numpy as np
import pytest

from attention.lecture import AMBIGUOUS, DEFAULTS, run_lecture, sense_direction

# (ambiguous word, the sense its context picks, sentence)
CASES = [
    ("apple", "fruit", "i ate an apple and a banana for lunch"),
    ("apple", "technology", "apple released a new phone and a laptop"),
    ("bank", "river", "we sat on the bank of the river and watched the water"),
    ("bank", "money", "i deposited money at the bank to pay the loan"),
    ("bat", "animal", "the bat is a small animal that hunts insects at night"),
    ("bat", "sport", "he hit the ball with the bat and the team won the game"),
    ("mouse", "animal", "the cat and the dog chased a little mouse"),
    ("mouse", "technology", "the mouse and the keyboard are plugged into my computer"),
    ("python", "animal", "the python is a huge snake that lives in the jungle"),
    ("python", "technology", "i wrote the code in python and ran the program on my computer"),
    ("spring", "season", "spring is the warm season after the snow of winter"),
    ("spring", "water", "we drank fresh water from a spring near the lake"),
    ("crane", "animal", "a crane is a bird with a long beak and white feathers"),
    ("crane", "construction", "the crane lifted steel beams to the top of the new tower"),
    ("jaguar", "animal", "the jaguar is a wild cat that hunts deer in the jungle"),
    ("jaguar", "car", "he drove his new jaguar on the highway faster than any other car"),
    ("bass", "animal", "a bass is a fish, an animal like the shark and the whale"),
    ("bass", "music", "she plays the bass guitar in a jazz band"),
    ("pitch", "sport", "the players ran onto the football pitch before the match"),
    ("pitch", "music", "the choir sang the melody at a perfect pitch"),
    ("bark", "tree", "the old tree had thick brown bark on its branches"),
    ("bark", "animal", "the dog began to bark when the cat came near"),
    ("cold", "weather", "the cold wind and snow of winter froze the lake"),
    ("cold", "illness", "she caught a cold and stayed in bed with a fever and a cough"),
]


def cosine(v, d):  # [d_model], [d_model] -> float
    return float(np.dot(v, d) / (np.linalg.norm(v) * np.linalg.norm(d)))


def sense_rises(word, sense, text, **settings):  # -> (rise toward sense, rise toward the other sense, run)
    other = next(s for s in AMBIGUOUS[word] if s != sense)
    run = run_lecture(text, **settings)
    i = run.tokens.index(word)
    before, after = run.hidden[0, i], run.hidden[-1, i]
    rise = cosine(after, sense_direction(sense)) - cosine(before, sense_direction(sense))
    rise_other = cosine(after, sense_direction(other)) - cosine(before, sense_direction(other))
    return rise, rise_other, run


def test_cases_cover_every_ambiguous_word_in_both_senses():
    covered = {(word, sense) for word, sense, _ in CASES}
    wanted = {(word, sense) for word, senses in AMBIGUOUS.items() for sense in senses}
    assert covered == wanted
    assert len(CASES) >= 16


@pytest.mark.parametrize(("word", "sense", "text"), CASES, ids=[f"{w}-{s}" for w, s, _ in CASES])
def test_context_pulls_the_ambiguous_word_toward_its_sense(word, sense, text):
    rise, rise_other, run = sense_rises(word, sense, text, **DEFAULTS)
    assert not run.unknown.any(), f"the claim sentence has words outside the vocabulary: {run.notices}"
    assert rise > 0, f"{word!r} should move toward {sense!r} in {text!r} (cosine changed by {rise:+.3f})"
    assert rise > rise_other, f"{word!r} moved more toward the other sense ({rise_other:+.3f} vs {rise:+.3f})"


@pytest.mark.parametrize(("word", "sense", "text"), CASES[:4])
def test_without_pull_nothing_moves(word, sense, text):
    """The measurement itself can fail: with alpha = 0 there is no rise at all."""
    rise, rise_other, _ = sense_rises(word, sense, text, **{**DEFAULTS, "alpha": 0.0})
    assert rise == pytest.approx(0.0, abs=1e-6) and rise_other == pytest.approx(0.0, abs=1e-6)


def test_ambiguous_words_start_exactly_between_their_senses():
    for word, (a, b) in AMBIGUOUS.items():
        run = run_lecture(word, **DEFAULTS)
        x = run.hidden[0, 0]
        assert cosine(x, sense_direction(a)) == pytest.approx(cosine(x, sense_direction(b)), abs=1e-5), word
        assert abs(np.dot(sense_direction(a), sense_direction(b))) < 1e-6, f"{word}: its two senses must differ"

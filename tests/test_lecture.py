"""The lecture model: tokenizer, vocabulary, presets, designed heads and run_lecture against independent references."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attention import lecture, presets, vocab
from attention.core import causal_mask
from attention.examples import EXAMPLES
from attention.lecture import (
    AMBIGUOUS,
    AXES,
    AXIS_LABELS,
    D_MODEL,
    DEFAULTS,
    embed,
    reference_words,
    run_lecture,
    sense_direction,
    tokenize,
    word_vector,
)
from attention.presets import PRESETS, head_descriptions, preset_weights
from attention.run import stages

ROOT = Path(__file__).resolve().parents[1]

VALID_HEADS = [1, 2, 3, 4, 6, 8]
CONTENT = sorted(vocab.memberships())


# --- tokenizer -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("I ate an Apple.", ["i", "ate", "an", "apple", "."]),
        ("The animal didn't cross", ["the", "animal", "didn't", "cross"]),
        ("didn’t", ["didn't"]),  # a typographic apostrophe reads like a plain one
        ("the dog's bark", ["the", "dog's", "bark"]),
        ("Hello,world!!", ["hello", ",", "world", "!", "!"]),
        ("  tabs\tand\nnewlines  ", ["tabs", "and", "newlines"]),
        ("café au lait", ["café", "au", "lait"]),
        ("snake_case", ["snake", "_", "case"]),
        ("3.5 apples", ["3", ".", "5", "apples"]),
        ("", []),
        ("   ", []),
    ],
)
def test_tokenize(text, tokens):
    assert tokenize(text) == tokens


@given(st.text(max_size=80))
def test_tokens_are_lower_case_pieces_of_the_text(text):
    tokens = tokenize(text)
    lowered = text.lower().replace("’", "'")
    assert all(t and not t.isspace() and t == t.lower() and t in lowered for t in tokens)


# --- vocabulary ------------------------------------------------------------------------------------------


def test_vocabulary_is_large_and_uses_every_named_axis():
    table = vocab.memberships()
    assert len(AXES) >= 8 and len(set(AXES)) == len(AXES)
    assert len(table) >= 500
    for axis in AXES:
        assert sum(1 for m in table.values() if m.get(axis) == 1.0) >= 20, axis
    assert {"the", "a", "an", "and", "of", "to", "in", "is", "was", "it"} <= vocab.function_words()
    assert not set(table) & vocab.function_words() and not set(AMBIGUOUS) & set(table)


def test_axis_labels_name_every_dimension():
    assert len(AXIS_LABELS) == D_MODEL and AXIS_LABELS[: len(AXES)] == list(AXES)
    assert len(set(AXIS_LABELS)) == D_MODEL


def test_a_content_word_points_along_its_axes():
    for word in ["banana", "laptop", "lion", "loan", "river", "tennis", "queen", "happy", "music"]:
        v = word_vector(word)[: len(AXES)]
        axis = max(vocab.memberships()[word], key=vocab.memberships()[word].get)
        assert np.argmax(v) == AXES.index(axis), word


def test_function_words_are_short_next_to_content_words():
    short = max(np.linalg.norm(word_vector(w)) for w in vocab.function_words())
    long = min(np.linalg.norm(word_vector(w)) for w in CONTENT)
    assert short < long / 5


@pytest.mark.parametrize(
    ("word", "base"),
    [
        ("bananas", "banana"),
        ("released", "release"),
        ("dog's", "dog"),
        ("hugged", "hug"),
        ("apples", "apple"),
        ("baking", "bake"),
        ("zorblaxes", "zorblaxes"),
    ],
)
def test_inflected_words_read_as_their_table_entry(word, base):
    assert lecture.lemma(word) == base
    np.testing.assert_array_equal(word_vector(word), word_vector(base))


def test_ambiguous_words_and_senses():
    assert len(AMBIGUOUS) >= 8
    assert {"apple", "bank", "bat", "mouse", "python", "spring", "crane", "jaguar"} <= set(AMBIGUOUS)
    for a, b in AMBIGUOUS.values():
        for sense in (a, b):
            assert np.linalg.norm(sense_direction(sense)) == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(ValueError, match="unknown sense"):
        sense_direction("spaceship")


def test_reference_words_are_typical_words_of_each_axis():
    words = reference_words(per_axis=3)
    assert len(words) == 3 * len(AXES) and len(set(words)) == len(words)
    for i, axis in enumerate(AXES):
        for w in words[3 * i : 3 * i + 3]:
            assert np.argmax(word_vector(w)[: len(AXES)]) == AXES.index(axis), (axis, w)
    assert reference_words(per_axis=0) == []
    with pytest.raises(ValueError, match="per_axis"):
        reference_words(per_axis=-1)


def test_reference_words_for_chosen_axes_and_the_axes_of_a_sentence():
    assert (
        reference_words(per_axis=2, axes=["technology", "food"]) == reference_words(per_axis=2)[:4]  # in AXES order
    )
    with pytest.raises(ValueError, match="axes must be names"):
        reference_words(axes=["food", "spaceships"])
    x, _ = embed(tokenize("apple released a new phone and a laptop"))
    assert lecture.sentence_axes(x, top=2) == ["technology", "food"]
    x, _ = embed(tokenize("i deposited money at the bank to pay the loan"))
    assert lecture.sentence_axes(x, top=1) == ["finance"]


def test_unknown_word_is_flagged_and_the_same_in_another_process():
    words = ["zorblax", "quuxing", "glorpf"]
    x, unknown = embed(words)
    assert unknown.all()
    assert not embed(["the", "banana", ",", "42"])[1].any()
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); from attention.lecture import word_vector; "
        "print(json.dumps([word_vector(w).tolist() for w in sys.argv[2:]]))"
    )
    env = {"PYTHONHASHSEED": "12345", "PATH": ""}
    out = subprocess.run(
        [sys.executable, "-c", code, str(ROOT), *words], capture_output=True, text=True, env=env, check=True
    )
    other_process = np.array(json.loads(out.stdout), dtype=np.float32)
    np.testing.assert_array_equal(other_process, np.stack([word_vector(w) for w in words]))
    np.testing.assert_array_equal(other_process[:, : len(AXES)], x[:, : len(AXES)])
    assert len({tuple(word_vector(w)) for w in words}) == len(words)


def test_embed_adds_sinusoidal_positions():
    tokens = ["the", "cat", "saw", "the", "dog"]
    x, _ = embed(tokens)
    n_sem = len(AXES)
    for i, t in enumerate(tokens):
        np.testing.assert_array_equal(x[i, :n_sem], word_vector(t)[:n_sem])
        for p, w in enumerate(vocab.FREQUENCIES):  # PE(i) = scale · (sin(i·w_p), cos(i·w_p))
            expected = vocab.POS_SCALE * np.array([np.sin(i * w), np.cos(i * w)])
            np.testing.assert_allclose(x[i, n_sem + 2 * p : n_sem + 2 * p + 2], expected, atol=1e-6)
    assert x.dtype == np.float32


# --- presets ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("preset", PRESETS)
@pytest.mark.parametrize("n_head", VALID_HEADS)
def test_every_preset_has_four_square_finite_matrices(preset, n_head):
    w = preset_weights(preset, n_head)
    assert set(w) == {"w_q", "w_k", "w_v", "w_o"}
    for m in w.values():
        assert m.shape == (D_MODEL, D_MODEL) and m.dtype == np.float32 and np.isfinite(m).all()
    lines = head_descriptions(preset, n_head)
    assert len(lines) == n_head and all(isinstance(s, str) and s for s in lines)


@pytest.mark.parametrize("n_head", [0, 5, 7, 9, 12, 24, -1, 2.0, True, "2"])
def test_bad_head_counts_say_which_work(n_head):
    with pytest.raises(ValueError, match="n_head"):
        preset_weights("identity", n_head)


def test_bad_preset_lists_the_presets():
    with pytest.raises(ValueError, match="identity"):
        preset_weights("clever", 1)


def test_random_preset_follows_its_seed():
    a, b, c = (
        preset_weights("random", 2, seed=1),
        preset_weights("random", 2, seed=1),
        preset_weights("random", 2, seed=2),
    )
    np.testing.assert_array_equal(a["w_q"], b["w_q"])
    assert not np.allclose(a["w_q"], c["w_q"])
    with pytest.raises(ValueError, match="seed must be"):
        preset_weights("random", 2, seed=-1)


def designed_heads(n_head, kind):  # -> head indices of that kind
    return [h for h in range(n_head) if presets.DESIGNED_CYCLE[h % len(presets.DESIGNED_CYCLE)] == kind]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n_head=st.sampled_from([2, 3, 4, 6, 8]),
    words=st.lists(st.sampled_from(CONTENT + sorted(vocab.function_words())), min_size=2, max_size=12),
    causal=st.booleans(),
)
def test_positional_heads_look_where_they_say(n_head, words, causal):
    """Previous-token heads put most weight on i-1, self heads on i, next-token heads on i+1."""
    run = run_lecture(" ".join(words), n_head=n_head, preset="designed", causal=causal)
    n = run.n_seq
    for kind, shift in [("previous-token", -1), ("self", 0), ("next-token", 1)]:
        for h in designed_heads(n_head, kind):
            w = run.weights[0, h]
            for i in range(n):
                if 0 <= i + shift < n and not (causal and shift > 0):
                    assert w[i].argmax() == i + shift and w[i, i + shift] > 0.5, (kind, i, w[i])


def test_topic_head_prefers_words_that_share_a_topic():
    run = run_lecture("banana the laptop of bread", preset="designed", n_head=1)
    w = run.weights[0, 0]
    assert w[0, 4] > w[0, 2] and w[0, 4] > w[0, 1]  # banana -> bread, not laptop or "the"
    assert w[2, 0] < w[0, 4]


# --- run_lecture -----------------------------------------------------------------------------------------


def naive_lecture(x, w, n_head, alpha, steps, mask=None):  # independent loop version of the model
    d_head = D_MODEL // n_head
    hidden = [x.astype(np.float64)]
    for _ in range(steps):
        h = hidden[-1]
        q, k, v = h @ w["w_q"], h @ w["w_k"], h @ w["w_v"]
        concat = np.zeros_like(h)
        for head in range(n_head):
            cols = slice(head * d_head, (head + 1) * d_head)
            for i in range(len(h)):
                scores = [q[i, cols] @ k[j, cols] / np.sqrt(d_head) for j in range(len(h))]
                scores = [s if mask is None or mask[i, j] else -np.inf for j, s in enumerate(scores)]
                e = np.exp(np.array(scores) - max(scores))
                concat[i, cols] = (e / e.sum()) @ v[:, cols]
        hidden.append((1 - alpha) * h + alpha * concat @ w["w_o"])
    return np.stack(hidden)


@pytest.mark.parametrize(
    ("preset", "n_head", "steps", "causal"),
    [("identity", 1, 1, False), ("designed", 4, 3, True), ("random", 3, 2, False), ("designed", 8, 2, False)],
)
def test_run_matches_a_naive_loop(preset, n_head, steps, causal):
    text = "the cat saw the dog and the dog saw the cat"
    run = run_lecture(text, n_head=n_head, preset=preset, steps=steps, alpha=0.4, causal=causal)
    x, _ = embed(tokenize(text))
    mask = causal_mask(len(x)) if causal else None
    expected = naive_lecture(x, preset_weights(preset, n_head), n_head, 0.4, steps, mask)
    np.testing.assert_allclose(run.hidden, expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(run.hidden[1:], 0.6 * run.hidden[:-1] + 0.4 * run.attn_out, atol=1e-5)


@pytest.mark.parametrize("similarity", ["dot", "cosine"])
def test_run_shapes_and_weights_match_stages(similarity):
    run = run_lecture(
        "we sat on the bank of the river",
        n_head=3,
        preset="designed",
        steps=3,
        similarity=similarity,
        temperature=0.7,
        causal=True,
    )
    n = len(run.tokens)
    assert run.model == "lecture" and run.n_layer == 3 and run.n_head == 3 and run.d_head == 8
    assert run.queries.shape == run.keys.shape == run.values.shape == (3, 3, n, 8)
    assert run.weights.shape == (3, 3, n, n) and run.hidden.shape == (4, n, D_MODEL)
    assert run.attn_out.shape == (3, n, D_MODEL) and run.unknown.shape == (n,)
    assert run.similarity == similarity and run.temperature == 0.7 and run.scale is True
    np.testing.assert_array_equal(run.mask, causal_mask(n))
    for layer in range(run.n_layer):
        for head in range(run.n_head):
            np.testing.assert_allclose(stages(run, layer, head).weights[0], run.weights[layer, head], atol=1e-6)
    assert np.allclose(np.triu(run.weights, k=1), 0.0)
    assert all(a.dtype == np.float32 for a in (run.queries, run.weights, run.hidden, run.attn_out))


def test_alpha_zero_leaves_the_embeddings_unchanged():
    run = run_lecture("i ate an apple and a banana", alpha=0.0, steps=4)
    for s in range(1, 5):
        np.testing.assert_array_equal(run.hidden[s], run.hidden[0])


def test_edited_weights_override_the_preset():
    w = preset_weights("random", 2, seed=7)
    edited = run_lecture("apple released a new phone", n_head=2, preset="identity", weights=w)
    reference = run_lecture("apple released a new phone", n_head=2, preset="random", seed=7)
    np.testing.assert_array_equal(edited.weights, reference.weights)


def test_long_text_is_truncated_with_a_notice():
    run = run_lecture("the dog " * 300, max_tokens=512)
    assert run.n_seq == 512 and any("600" in n and "512" in n for n in run.notices)


def test_unknown_words_are_listed_in_a_notice():
    run = run_lecture("the zorblax ate a quuxing banana")
    assert run.unknown.tolist() == [False, True, False, False, True, False]
    assert any("zorblax" in n and "quuxing" in n for n in run.notices)


@pytest.mark.parametrize("text", EXAMPLES.values())
def test_shipped_examples_use_only_known_words(text):
    assert not run_lecture(text).unknown.any()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"text": ""}, "type a sentence"),
        ({"text": "   "}, "type a sentence"),
        ({"text": None}, "type a sentence"),
        ({"alpha": -0.1}, "alpha must be between 0 and 1"),
        ({"alpha": 1.5}, "alpha"),
        ({"alpha": float("nan")}, "alpha"),
        ({"alpha": "lots"}, "alpha"),
        ({"steps": 0}, "steps must be a whole number from 1 to 8"),
        ({"steps": 9}, "steps"),
        ({"steps": 1.5}, "steps"),
        ({"n_head": 5}, "n_head must divide"),
        ({"preset": "clever"}, "preset must be one of"),
        ({"temperature": 0}, "temperature must be > 0"),
        ({"similarity": "euclid"}, "similarity must be one of"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"weights": {"w_q": np.eye(D_MODEL)}}, "weights must be a dict with keys"),
        ({"weights": {**preset_weights("identity", 1), "w_k": np.eye(3)}}, r"must be \[24, 24\]"),
        (
            {"weights": {**preset_weights("identity", 1), "w_v": np.full((D_MODEL, D_MODEL), np.nan)}},
            "NaN or inf at row 0, column 0",
        ),
        ({"weights": {**preset_weights("identity", 1), "w_o": [["x"] * D_MODEL] * D_MODEL}}, "numbers only"),
    ],
)
def test_bad_settings_say_what_to_do(kwargs, message):
    kwargs = {"text": "the cat sat", **kwargs}
    with pytest.raises(ValueError, match=message):
        run_lecture(**kwargs)


def test_unexpected_settings_are_a_type_error():
    with pytest.raises(TypeError):
        run_lecture("the cat sat", hide_special=True)


def test_defaults_are_valid_settings():
    assert set(DEFAULTS) == {"preset", "n_head", "alpha", "steps", "temperature", "similarity"}
    assert run_lecture("i ate an apple", **DEFAULTS).n_layer == DEFAULTS["steps"]

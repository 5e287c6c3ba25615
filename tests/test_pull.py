"""Context pull and the PCA view: the formula by hand, one shared fit, explained variance, top context words."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from attention.lecture import embed, reference_words, run_lecture, word_vector
from attention.pull import Projection, context_pull, pca_project, pca_trajectories, top_context


def test_context_pull_by_hand():
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    out = np.array([[5.0, 6.0], [7.0, 8.0]])
    # 0.75 · x + 0.25 · out, worked out on paper
    np.testing.assert_allclose(context_pull(x, out, 0.25), [[2.0, 3.0], [4.0, 5.0]])
    np.testing.assert_array_equal(context_pull(x, out, 0.0), x)
    np.testing.assert_array_equal(context_pull(x, out, 1.0), out)
    assert context_pull(x, out, 0.5).dtype == np.float32


@pytest.mark.parametrize("alpha", [-0.01, 1.01, float("nan"), float("inf"), None, "half"])
def test_context_pull_rejects_alpha_outside_0_1(alpha):
    with pytest.raises(ValueError, match="alpha must be between 0 and 1"):
        context_pull(np.zeros((2, 3)), np.zeros((2, 3)), alpha)


def test_context_pull_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="same shape"):
        context_pull(np.zeros((2, 3)), np.zeros((3, 3)), 0.5)


def lecture_pull(text="i ate an apple and a banana"):  # -> (before, after, reference)
    run = run_lecture(text)
    reference = np.stack([word_vector(w) for w in reference_words(per_axis=3)])
    return run.hidden[0], run.hidden[-1], reference


@pytest.mark.parametrize("n_components", [2, 3])
@pytest.mark.parametrize("with_reference", [False, True])
def test_pca_shapes_and_explained_variance(n_components, with_reference):
    before, after, reference = lecture_pull()
    p = pca_project(before, after, reference if with_reference else None, n_components=n_components)
    assert isinstance(p, Projection)
    assert p.before.shape == p.after.shape == (len(before), n_components)
    assert (p.reference is None) if not with_reference else p.reference.shape == (len(reference), n_components)
    r = p.explained_variance_ratio
    assert r.shape == (n_components,) and np.all(r > 0) and np.all(r <= 1) and r.sum() <= 1 + 1e-6
    assert np.all(np.diff(r) <= 1e-7)  # the first component keeps the most


def numpy_pca(stacked, k):  # independent PCA: centre, SVD, project on the top k right singular vectors
    centred = stacked - stacked.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:k].T, (s[:k] ** 2) / (s**2).sum()


def test_pca_is_one_fit_over_before_after_and_reference():
    before, after, reference = lecture_pull()
    p = pca_project(before, after, reference)
    points, ratio = numpy_pca(np.concatenate([before, after, reference]).astype(np.float64), 2)
    n = len(before)
    signs = np.sign(np.sum(points[:n] * p.before, axis=0))  # a PCA axis may point either way
    np.testing.assert_allclose(p.before, points[:n] * signs, atol=1e-4)
    np.testing.assert_allclose(p.after, points[n : 2 * n] * signs, atol=1e-4)
    np.testing.assert_allclose(p.reference, points[2 * n :] * signs, atol=1e-4)
    np.testing.assert_allclose(p.explained_variance_ratio, ratio, atol=1e-5)


@settings(max_examples=30, deadline=None)
@given(
    coords=arrays(np.float64, (9, 2), elements=st.floats(-10, 10)),
    n_before=st.integers(1, 4),
)
def test_arrows_keep_their_lengths_when_the_data_is_flat(coords, n_before):
    """Points on a plane inside d_model = 24: one shared 2-D fit keeps every distance, arrows included."""
    basis = np.linalg.qr(np.random.default_rng(0).standard_normal((24, 2)))[0].T  # [2, 24] orthonormal rows
    points = coords @ basis + 3.0
    before, after, ref = points[:n_before], points[n_before : 2 * n_before], points[2 * n_before :]
    p = pca_project(before, after, ref)
    shown = np.concatenate([p.before, p.after, p.reference]).astype(np.float64)
    scale = 1 + np.abs(coords).max()
    dist = np.linalg.norm(points[:, None] - points[None, :], axis=-1)
    shown_dist = np.linalg.norm(shown[:, None] - shown[None, :], axis=-1)
    np.testing.assert_allclose(shown_dist, dist, atol=1e-4 * scale)
    assert np.all(p.explained_variance_ratio >= 0) and p.explained_variance_ratio.sum() <= 1 + 1e-6


def test_identical_points_give_zeros_not_nan():
    x = np.ones((1, 24))
    p = pca_project(x, x, n_components=3)
    assert np.all(p.before == 0) and np.all(p.after == 0) and np.all(p.explained_variance_ratio == 0)
    p = pca_project(np.zeros((1, 24)), np.ones((1, 24)), n_components=3)  # 2 points: only 1 direction to fill
    assert np.isfinite(p.before).all() and p.explained_variance_ratio[0] == pytest.approx(1.0)
    np.testing.assert_allclose(p.explained_variance_ratio[1:], 0.0, atol=1e-12)


@pytest.mark.parametrize("n_components", [0, 4, 2.5, True])
def test_pca_rejects_bad_component_counts(n_components):
    with pytest.raises(ValueError, match="n_components"):
        pca_project(np.eye(3), np.eye(3), n_components=n_components)


def test_pca_rejects_nan_and_mismatched_vectors():
    with pytest.raises(ValueError, match="NaN or inf"):
        pca_project(np.full((2, 4), np.nan), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="same shape"):
        pca_project(np.zeros((2, 4)), np.zeros((3, 4)))
    with pytest.raises(ValueError, match="reference"):
        pca_project(np.zeros((2, 4)), np.ones((2, 4)), reference=np.zeros((3, 5)))


def test_trajectories_are_one_fit_over_every_layer():
    run = run_lecture("we sat on the bank of the river", steps=4)
    reference = np.stack([word_vector(w) for w in reference_words(per_axis=2)])
    points, ref_points, ratio = pca_trajectories(run.hidden, reference, n_components=3)
    assert points.shape == (5, run.n_seq, 3) and ref_points.shape == (len(reference), 3)
    expected, expected_ratio = numpy_pca(np.concatenate([run.hidden.reshape(-1, 24), reference]).astype(np.float64), 3)
    got = np.concatenate([points.reshape(-1, 3), ref_points])
    signs = np.sign(np.sum(expected * got, axis=0))
    np.testing.assert_allclose(got, expected * signs, atol=1e-4)
    np.testing.assert_allclose(ratio, expected_ratio, atol=1e-5)
    # two states are exactly a before/after pair
    two, _, _ = pca_trajectories(run.hidden[[0, 1]])
    pair = pca_project(run.hidden[0], run.hidden[1])
    np.testing.assert_allclose(two[0], pair.before, atol=1e-5)
    np.testing.assert_allclose(two[1], pair.after, atol=1e-5)
    with pytest.raises(ValueError, match="hidden must be"):
        pca_trajectories(run.hidden[0])


def test_the_pull_moves_apple_toward_banana_in_the_picture():
    before, after, _ = lecture_pull("i ate an apple and a banana")
    p = pca_project(before, after)
    apple, banana = 3, 6
    assert np.linalg.norm(p.after[apple] - p.before[banana]) < np.linalg.norm(p.before[apple] - p.before[banana])


def test_top_context():
    tokens = ["i", "ate", "an", "apple", "and", "a", "banana"]
    row = np.array([0.05, 0.2, 0.05, 0.4, 0.05, 0.0, 0.25])
    assert top_context(row, tokens, k=3) == [("apple", 0.4), ("banana", 0.25), ("ate", 0.2)]
    assert top_context(row, tokens, k=2, exclude=3) == [("banana", 0.25), ("ate", 0.2)]
    assert [t for t, _ in top_context(row, tokens, k=10)] == [
        "apple",
        "banana",
        "ate",
        "i",
        "an",
        "and",
    ]  # no "a": weight 0
    assert top_context(row, tokens, k=0) == []
    with pytest.raises(ValueError, match="one weight per token"):
        top_context(row[:3], tokens)


@given(arrays(np.float64, 6, elements=st.floats(0, 1)), st.integers(0, 6))
def test_top_context_returns_the_heaviest_weights(row, k):
    tokens = [f"t{i}" for i in range(6)]
    top = top_context(row, tokens, k=k)
    expected = sorted((w for w in row if w > 0), reverse=True)[:k]
    assert [w for _, w in top] == expected


def test_reference_words_have_their_own_vectors():
    words = reference_words(per_axis=2)
    x, unknown = embed(words)
    assert not unknown.any() and len({tuple(v) for v in x[:, :16]}) == len(words)

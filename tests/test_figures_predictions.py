"""The predictions bars and RoPE's shift test against independent expectations: a softmax sorted here, and the
rotation written with complex numbers (pair p of q as q_p + i·q_{p+h}, turned by e^{i·pos·θ_p})."""

import numpy as np
import pytest

from attention.figures.predictions import prediction_bars, prediction_rows, shift_figure
from attention.internals import kv_groups, rotated_score, shifted_scores, sink_heads
from attention.models.blocks import rope_inv_freq
from attention.run import Predictions


def predictions(rng, n_seq=4, vocab=50, k=20):  # -> (Predictions from a random softmax, the full probabilities)
    logits = rng.normal(size=(n_seq, vocab)) * 2
    p = np.exp(logits - logits.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    ids = np.argsort(-p, axis=-1)[:, :k]
    tokens = [["same" if j < 2 else f"t{i}" for j, i in enumerate(row)] for row in ids]  # two equal strings
    entropy = -(p * np.log(p)).sum(-1)
    pred = Predictions("next", ids, tokens, np.take_along_axis(p, ids, -1).astype(np.float32), entropy,
                       np.zeros(0, np.int64))  # fmt: skip
    return pred, p


@pytest.mark.parametrize("position", [0, 3])
def test_bars_hold_the_top_probabilities_in_order_with_unique_labels(position):
    pred, p = predictions(np.random.default_rng(position))
    fig = prediction_bars(pred, position, ["a", "b", "c", "d"], k=10)
    bars = fig.data[0]
    np.testing.assert_allclose(bars.x, np.sort(p[position])[::-1][:10], rtol=1e-6)
    assert len(set(bars.y)) == 10  # "same" twice would merge into one bar: the labels are made unique
    bits = -(p[position] * np.log2(p[position])).sum()
    assert f"entropy {bits:.2f} bits" in fig.layout.title.text and "Token after “" in fig.layout.title.text
    rows = prediction_rows(pred, position, k=20)
    assert list(rows.index) == list(range(1, 21)) and rows["probability"].is_monotonic_decreasing


def complex_score(q, k, inv_freq, i, j):  # the rotated q·k, written independently with complex numbers
    h = len(q) // 2
    qc, kc = q[:h] + 1j * q[h:], k[:h] + 1j * k[h:]
    return float(np.real(np.sum(qc * np.exp(1j * i * inv_freq) * np.conj(kc * np.exp(1j * j * inv_freq)))))


def test_rope_score_depends_on_the_distance_only():
    rng = np.random.default_rng(1)
    inv_freq = rope_inv_freq(16, 10000.0).astype(np.float64)
    q, k = rng.normal(size=16), rng.normal(size=16)
    for i, j in [(5, 2), (0, 0), (40, 3)]:
        assert rotated_score(q, k, inv_freq, i, j) == pytest.approx(complex_score(q, k, inv_freq, i, j), abs=1e-9)
    together, apart = shifted_scores(q, k, inv_freq, 7, 3, range(0, 50, 5))
    np.testing.assert_allclose(together, complex_score(q, k, inv_freq, 4, 0), atol=1e-9)  # only i − j = 4 counts
    expected = [complex_score(q, k, inv_freq, 7 + s, 3) for s in range(0, 50, 5)]
    np.testing.assert_allclose(apart, expected, atol=1e-9)
    assert np.ptp(apart) > 0.1
    fig = shift_figure(range(0, 50, 5), together, apart, 7, 3)
    np.testing.assert_allclose(fig.data[0].y, together) and np.testing.assert_allclose(fig.data[1].y, apart)


def test_kv_groups_and_sink_heads():
    assert kv_groups(np.array([0, 0, 0, 1, 1, 1, 2, 2, 2]), 9) == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]  # SmolLM2
    assert kv_groups(None, 2) == [[0], [1]]
    assert sink_heads(np.array([0.2, 0.9, 0.51, 0.5])) == [(1, 0.9), (2, 0.51)]  # most first; 0.5 is not most

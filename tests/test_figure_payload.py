"""Long inputs stay light in the browser: large heatmaps send z as binary without per-cell text, and the
all-heads grid averages blocks of tokens above MAX_GRID (exactly, checked against a naive loop)."""

import numpy as np
import pytest

from attention.figures import heads, heatmaps


def random_weights(rng, n_head, n_seq):  # -> [n_head, n_seq, n_seq], rows sum to 1
    w = rng.random((n_head, n_seq, n_seq), dtype=np.float32)
    return w / w.sum(axis=-1, keepdims=True)


def test_large_heatmap_sends_no_cell_text_and_hovers_on_z():
    n = heatmaps.MAX_HOVER_TEXT + 1
    w = random_weights(np.random.default_rng(0), 1, n)[0]
    fig = heatmaps.attention_heatmap(w, [f"t{i}" for i in range(n)])
    assert fig.data[0].text is None and "%{z" in fig.data[0].hovertemplate
    small = heatmaps.attention_heatmap(w[:8, :8], [f"t{i}" for i in range(8)])
    assert small.data[0].text is not None and "%{text}" in small.data[0].hovertemplate


@pytest.mark.parametrize("n_seq, max_n", [(10, 4), (9, 3), (512, 128), (130, 128)])
def test_block_mean_matches_a_naive_loop(n_seq, max_n):
    w = random_weights(np.random.default_rng(n_seq), 2, n_seq)
    got, starts, size = heads.block_mean(w, max_n)
    assert len(starts) <= max_n and size == -(-n_seq // max_n)
    ends = list(starts[1:]) + [n_seq]
    for h in range(2):
        for i, (a, b) in enumerate(zip(starts, ends, strict=True)):
            for j, (c, d) in enumerate(zip(starts, ends, strict=True)):
                assert got[h, i, j] == pytest.approx(w[h, a:b, c:d].mean(), rel=1e-5)
    counts = np.diff(list(starts) + [n_seq])
    np.testing.assert_allclose((got * counts).sum(axis=-1), 1.0, rtol=1e-5)  # each block of rows still sums to 1


def test_head_grid_at_512_tokens_is_binned_and_says_so():
    n_head, n_seq = 12, 512
    fig = heads.head_grid(random_weights(np.random.default_rng(1), n_head, n_seq), [f"t{i}" for i in range(n_seq)])
    assert len(fig.data) == n_head
    assert all(np.asarray(t.z).shape == (heads.MAX_GRID, heads.MAX_GRID) and t.text is None for t in fig.data)
    assert "block of 4 × 4 tokens" in fig.layout.title.text
    assert len(set(fig.data[0].x)) == heads.MAX_GRID  # block labels stay distinct

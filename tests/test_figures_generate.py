"""The /generate figures from a synthetic Generation: the triangle fills in row by row, the cache picture marks
what each step stores, and the bars carry the step's numbers."""

import numpy as np
from plotly_spec import decode

from attention.figures.generate import cache_picture, heads_at_step, next_token_bars, sequence_rows, triangle
from attention.generate import Generation, Step, cache_bytes
from attention.models.loading import Config

N_LAYER, N_HEAD, N_KV, D_HEAD, N_PROMPT, N_NEW = 2, 3, 1, 4, 3, 4


def rows(n, rng):  # -> [N_LAYER, N_HEAD, n] rows that sum to 1
    w = rng.random((N_LAYER, N_HEAD, n))
    return (w / w.sum(-1, keepdims=True)).astype(np.float32)


def synthetic():  # -> Generation with random rows, prompt "a b a", then tokens t0..t3
    rng = np.random.default_rng(0)
    prompt = np.tril(rng.random((N_LAYER, N_HEAD, N_PROMPT, N_PROMPT)))
    prompt /= prompt.sum(-1, keepdims=True)
    config = Config("gpt2", N_LAYER, N_HEAD, N_HEAD * D_HEAD, 8, 64, 64, 1e-5, "gelu", kv_heads=N_KV)
    gen = Generation("x", np.array([5, 6, 5]), ["a", "b", "a"], prompt.astype(np.float32),
                     shape=(N_LAYER, N_HEAD, N_KV, D_HEAD))  # fmt: skip
    for t in range(N_NEW):
        top = rng.permutation(20)
        attention = prompt[:, :, -1] if t == 0 else rows(N_PROMPT + t, rng)
        gen.steps.append(Step(attention, top, [f"w{i}" for i in top], np.linspace(0.3, 0.01, 20, dtype=np.float32),
                              np.linspace(0.5, 0.0, 20, dtype=np.float32), 5, int(top[2]), f"t{t}", 0.2, 0.3,
                              cache_bytes(config, N_PROMPT + t)))  # fmt: skip
    return gen


def test_the_triangle_fills_in_step_by_step():
    gen = synthetic()
    for upto in range(N_NEW):
        z = sequence_rows(gen, 1, 2, upto)
        np.testing.assert_allclose(np.nan_to_num(z[:N_PROMPT, :N_PROMPT]), gen.prompt_attention[1, 2], atol=1e-6)
        for t in range(1, N_NEW):
            row = z[N_PROMPT + t - 1]
            if t <= upto:
                np.testing.assert_allclose(row[: N_PROMPT + t], gen.steps[t].attention[1, 2], atol=1e-6)
                assert np.isnan(row[N_PROMPT + t :]).all()
            else:
                assert np.isnan(row).all()
    fig = triangle(gen, 1, 2, 2).to_plotly_json()
    assert list(fig["data"][0]["x"]) == ["a (0)", "b", "a (2)", "t0", "t1", "t2"]  # unique labels


def test_the_cache_picture_marks_what_each_step_stores():
    gen = synthetic()
    first = decode(cache_picture(gen, 0).to_plotly_json()["data"][0]["z"])
    assert (first[:, :N_PROMPT] == 1).all() and np.isnan(first[:, N_PROMPT:]).all()  # the prompt at once
    fig = cache_picture(gen, 2).to_plotly_json()
    z = decode(fig["data"][0]["z"])
    assert z.shape == (2 * N_LAYER, N_PROMPT + N_NEW - 1)
    assert (
        (z[:, : N_PROMPT + 1] == 0).all() and (z[:, N_PROMPT + 1] == 1).all() and np.isnan(z[:, N_PROMPT + 2 :]).all()
    )
    assert f"{2 * N_LAYER * N_KV * (N_PROMPT + 2) * D_HEAD * 4:,} bytes" in fig["layout"]["title"]["text"]


def test_bars_and_heads_carry_the_steps_numbers():
    gen = synthetic()
    fig = next_token_bars(gen.steps[3]).to_plotly_json()
    np.testing.assert_allclose(decode(fig["data"][0]["x"]), gen.steps[3].top_probs)
    np.testing.assert_allclose(decode(fig["data"][1]["x"]), gen.steps[3].after_probs)
    widths = fig["data"][0]["marker"]["line"]["width"]
    assert [i for i, w in enumerate(widths) if w] == [2]  # the chosen token (top[2]) is outlined
    heads = heads_at_step(gen, 0, 3).to_plotly_json()
    np.testing.assert_allclose(decode(heads["data"][0]["z"]), gen.steps[3].attention[0], atol=1e-6)

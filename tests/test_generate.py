"""Generation with the KV cache (attention.generate) against a full recompute and transformers' generate."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from tiny_models import build, gpt2_lm  # noqa: E402

from attention.generate import Sampling, choose, generate, reshape, to_json  # noqa: E402
from attention.models import step  # noqa: E402
from attention.models.families import family  # noqa: E402
from attention.models.passes import forward  # noqa: E402

pytestmark = pytest.mark.torch
PROMPT = "She sat on the bank of the river"
CASES = ["gpt2", "llama-gqa-untied-llama3", "qwen2-bias-tied", "qwen3-qknorm-head_dim"]


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("gen")


@pytest.fixture(scope="module")
def gpt2(tmp_path_factory):
    return gpt2_lm(tmp_path_factory.mktemp("gpt2"))


def model_and_ckpt(case, root, gpt2):
    return gpt2 if case == "gpt2" else build(case, "float32", root)


@pytest.mark.parametrize("case", CASES)
def test_greedy_ids_equal_transformers_generate(case, root, gpt2):
    model, ckpt = model_and_ckpt(case, root, gpt2)
    for prompt, n in [(PROMPT, 12), ("a", 8)]:
        gen = generate(ckpt, prompt, n)
        ids = torch.tensor(gen.prompt_ids[None])
        with torch.no_grad():
            ref = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=n, do_sample=False,
                                 pad_token_id=0)[0].numpy()  # fmt: skip
        np.testing.assert_array_equal(gen.ids, ref)
        assert gen.stop in ("max_new_tokens", "end of text")


@pytest.mark.parametrize("case", ["gpt2", "llama-gqa-untied-llama3", "qwen3-qknorm-head_dim"])
def test_cached_steps_equal_a_full_recompute(case, root, gpt2):
    _, ckpt = model_and_ckpt(case, root, gpt2)
    c, fam = ckpt.config, family(ckpt.config.arch)
    gen = generate(ckpt, PROMPT, 10, Sampling(greedy=False, temperature=1.5, seed=3), keep_logits=True)
    n_prompt = len(gen.prompt_ids)
    for t, s in enumerate(gen.steps):
        seq = gen.ids[: n_prompt + t]
        out = forward(ckpt, seq)
        logits = fam.logits(out["hidden"][-1][-1:], ckpt.weights, c)[0]
        np.testing.assert_allclose(s.logits, logits, atol=1e-4, rtol=0)
        np.testing.assert_allclose(s.attention, out["weights"][:, :, -1], atol=1e-5)
        assert s.attention.shape == (c.n_layer, c.n_head, n_prompt + t)
        _, cache = step(ckpt, seq)  # the cache's real size after this step's pass
        assert s.cache_bytes == sum(k.nbytes + v.nbytes for k, v in cache)
    np.testing.assert_allclose(gen.prompt_attention, forward(ckpt, gen.prompt_ids)["weights"], atol=1e-5)
    uncached = generate(ckpt, PROMPT, 10, Sampling(greedy=False, temperature=1.5, seed=3), use_cache=False)
    np.testing.assert_array_equal(uncached.ids, gen.ids)


def test_fixed_seed_sampling_is_reproducible(gpt2):
    _, ckpt = gpt2
    hot = Sampling(greedy=False, temperature=2.0, top_k=50, top_p=0.95, seed=7)
    first, again = generate(ckpt, PROMPT, 16, hot), generate(ckpt, PROMPT, 16, hot)
    np.testing.assert_array_equal(first.ids, again.ids)
    assert [s.prob_after for s in first.steps] == [s.prob_after for s in again.steps]
    other = generate(ckpt, PROMPT, 16, Sampling(greedy=False, temperature=2.0, top_k=50, top_p=0.95, seed=8))
    assert not np.array_equal(other.ids, first.ids)  # at T=2 over 16 draws two seeds part ways
    for s in first.steps:
        assert 1 <= s.kept <= 50 and s.prob_after > 0
    from_ids = generate(ckpt, first.prompt_ids, 16, hot)  # token ids instead of text (the benchmark's way)
    np.testing.assert_array_equal(from_ids.ids, first.ids)
    assert from_ids.tokens == first.tokens


def test_draws_follow_the_reshaped_distribution():
    p = reshape(np.array([2.0, 1.0, 0.5, -1.0, -3.0]), Sampling(greedy=False, temperature=0.7, top_k=4))
    rng = np.random.default_rng(0)
    counts = np.bincount([choose(p, rng) for _ in range(20000)], minlength=5) / 20000
    np.testing.assert_allclose(counts, p, atol=0.015)
    assert counts[4] == 0 and p[4] == 0


logit_lists = st.lists(st.floats(-20, 20, allow_nan=False), min_size=2, max_size=60, unique=True)


@settings(max_examples=200, deadline=None)
@given(logit_lists, st.integers(1, 70), st.floats(0.2, 3.0), st.integers(0, 2**31))
def test_top_k_never_picks_outside_the_k_largest(logits, k, temperature, seed):
    z = np.array(logits)
    p = reshape(z, Sampling(greedy=False, temperature=temperature, top_k=k, seed=seed))
    allowed = set(np.flatnonzero(z >= np.sort(z)[::-1][min(k, len(z)) - 1]))
    assert set(np.flatnonzero(p > 0)) <= allowed
    assert choose(p, np.random.default_rng(seed)) in allowed
    assert abs(p.sum() - 1) < 1e-9


@settings(max_examples=200, deadline=None)
@given(logit_lists, st.floats(0.01, 1.0), st.floats(0.2, 3.0), st.integers(0, 2**31))
def test_top_p_never_picks_outside_the_nucleus(logits, top_p, temperature, seed):
    z = np.array(logits) / temperature
    q = np.exp(z - z.max())
    q /= q.sum()
    # token i is in the nucleus when the tokens more likely than it hold less than top_p
    allowed = {i for i in range(len(z)) if q[q > q[i]].sum() < top_p - 1e-9} | {int(np.argmax(z))}
    p = reshape(np.array(logits), Sampling(greedy=False, temperature=temperature, top_p=top_p, seed=seed))
    assert set(np.flatnonzero(p > 0)) <= allowed | {i for i in range(len(z)) if abs(q[q > q[i]].sum() - top_p) < 1e-6}
    chosen = choose(p, np.random.default_rng(seed))
    assert p[chosen] > 0
    assert q[q > q[chosen]].sum() < top_p + 1e-6


def test_stops_at_end_of_text_and_at_the_positions(gpt2, tmp_path):
    _, ckpt = gpt2
    first = generate(ckpt, PROMPT, 5).steps[0].id
    (ckpt.path / "generation_config.json").write_text(json.dumps({"eos_token_id": first}))
    try:
        gen = generate(ckpt, PROMPT, 5)
    finally:
        (ckpt.path / "generation_config.json").unlink()
    assert gen.stop == "end of text" and len(gen.steps) == 1
    long = " ".join(["river bank"] * 40)
    with pytest.raises(ValueError, match="reads at most 64: shorten"):
        generate(ckpt, long, 5)
    prompt = " ".join(["bank"] * 60)
    gen = generate(ckpt, prompt, 20)
    assert len(gen.ids) == ckpt.config.n_max == 64 and gen.stop == "positions"


def test_bad_input_gets_a_clear_message(gpt2):
    _, ckpt = gpt2
    from attention.models import load

    with pytest.raises(ValueError, match="prompt is empty"):
        generate(ckpt, "   ", 4)
    with pytest.raises(ValueError, match="max_new_tokens"):
        generate(ckpt, PROMPT, 0)
    with pytest.raises(ValueError, match="top_p"):
        generate(ckpt, PROMPT, 4, Sampling(greedy=False, top_p=1.5))
    with pytest.raises(ValueError, match="temperature"):
        generate(ckpt, PROMPT, 4, Sampling(greedy=False, temperature=0))
    with pytest.raises(ValueError, match="minilm is an encoder"):
        generate(load("minilm"), PROMPT, 4)


def test_json_holds_tokens_ids_and_each_steps_probs_and_attention(gpt2):
    _, ckpt = gpt2
    gen = generate(ckpt, PROMPT, 3, Sampling(greedy=False, top_k=5, seed=1))
    out = json.loads(json.dumps(to_json(gen)))
    n_prompt = len(out["prompt_tokens"])
    assert out["tokens"][:n_prompt] == out["prompt_tokens"] and len(out["ids"]) == n_prompt + 3
    for t, s in enumerate(out["steps"]):
        assert len(s["probs"]["ids"]) == 20 and abs(sum(s["probs"]["after"]) - 1) < 1e-5  # top-5 inside the top 20
        assert np.array(s["attention"]).shape == (2, 4, n_prompt + t)
        assert s["id"] == out["ids"][n_prompt + t]


def test_cli_writes_the_generation(gpt2, tmp_path, capsys):
    from attention.cli import main

    _, ckpt = gpt2
    out = tmp_path / "gen.json"
    args = ["generate", "--model-dir", str(ckpt.path), "--prompt", PROMPT, "--max-new-tokens", "4"]
    assert main([*args, "--temperature", "1.5", "--top-k", "10", "--seed", "2", "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    again = generate(ckpt, PROMPT, 4, Sampling(greedy=False, temperature=1.5, top_k=10, seed=2))
    assert data["ids"] == again.ids.tolist() and data["tokens"] == again.tokens
    assert [s["probs"]["probabilities"][0] for s in data["steps"]] == pytest.approx(
        [float(s.top_probs[0]) for s in again.steps]
    )
    assert main([*args, "--greedy", "--top-p", "0.5", "--out", str(out)]) == 1
    assert "--greedy takes the most likely token" in capsys.readouterr().err
    assert main(["generate", "--model", "minilm", "--prompt", "hi", "--out", str(out)]) == 1
    assert "minilm is an encoder" in capsys.readouterr().err

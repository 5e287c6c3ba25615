"""The numpy trainer's backward pass against torch autograd (through transformers' own GPT-2) and against float64
finite differences; a short run beats the unigram baseline; the same seed gives the same weights."""

import numpy as np
import pytest

from attention.train import layers
from attention.train.loop import Settings, train
from attention.train.model import Config, forward, init_params, loss_and_grads

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")


def hf_model(params, c):  # our parameters in transformers' GPT2LMHeadModel (eager attention, float32)
    cfg = {k: v for k, v in c.hf_config().items() if k not in ("model_type", "architectures")}
    model = transformers.GPT2LMHeadModel(transformers.GPT2Config(**cfg, attn_implementation="eager"))
    state = {"transformer." + k: torch.from_numpy(np.array(v)) for k, v in params.items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert missing == ["lm_head.weight"] and not unexpected  # the head is tied to wte
    return model


def random_params(c, seed):  # GPT-2 init plus noise, so LayerNorm gains and biases are not 1 and 0
    rng = np.random.default_rng(seed)
    return {k: v + (0.1 * rng.standard_normal(v.shape)).astype(np.float32) for k, v in init_params(c, rng).items()}


@pytest.mark.parametrize(
    "scale, n_layer, n_head", [(True, 1, 1), (True, 2, 4), (False, 2, 2), (False, 1, 4), (True, 2, 8), (False, 2, 8)]
)
def test_every_gradient_matches_torch_autograd(scale, n_layer, n_head):
    c = Config(n_vocab=37, n_pos=16, n_layer=n_layer, n_head=n_head, d_model=32, scale=scale)
    params = random_params(c, seed=n_layer * 10 + n_head)
    rng = np.random.default_rng(1)
    ids, targets = rng.integers(0, c.n_vocab, (3, 12)), rng.integers(0, c.n_vocab, (3, 12))
    loss, grads, _ = loss_and_grads(params, ids, targets, c)

    model = hf_model(params, c)
    logits = model(torch.from_numpy(ids)).logits
    ref = torch.nn.functional.cross_entropy(logits.reshape(-1, c.n_vocab), torch.from_numpy(targets).reshape(-1))
    ref.backward()
    assert loss == pytest.approx(ref.item(), rel=1e-5)
    named = dict(model.named_parameters())
    assert set(grads) == set(params)
    for name, g in grads.items():
        expected = named["transformer." + name].grad.numpy()
        rel = np.abs(g - expected).max() / np.abs(expected).max()
        assert rel < 1e-4, f"{name}: relative error {rel:.2e}"


def test_gradients_match_float64_finite_differences():
    c = Config(n_vocab=11, n_pos=6, n_layer=2, n_head=2, d_model=8, scale=True)
    params = {k: v.astype(np.float64) for k, v in random_params(c, seed=3).items()}
    rng = np.random.default_rng(4)
    ids, targets = rng.integers(0, 11, (2, 6)), rng.integers(0, 11, (2, 6))
    _, grads, _ = loss_and_grads(params, ids, targets, c)

    def loss_at(name, index, delta):
        p = dict(params)
        p[name] = params[name].copy()
        p[name][index] += delta
        logits, _ = forward(p, ids, c)
        return layers.cross_entropy_forward(logits, targets)[0]

    h = 1e-6
    for name, value in params.items():
        for flat in rng.choice(value.size, min(6, value.size), replace=False):
            index = np.unravel_index(flat, value.shape)
            numeric = (loss_at(name, index, h) - loss_at(name, index, -h)) / (2 * h)
            assert grads[name][index] == pytest.approx(numeric, rel=1e-5, abs=1e-8), name


SHORT = Settings(steps=150, n_seq=16, batch=8, d_model=32, n_head=2, lr=1e-2, warmup=10, n_sequences=300)


def test_short_run_beats_the_unigram_baseline():
    result = train(SHORT, snapshot_every=75)
    assert result.losses[0] > result.unigram_loss  # starts near log(n_vocab), above the baseline
    assert result.losses[-10:].mean() < result.unigram_loss - 0.5
    assert result.snapshots.shape == (3, 2, 2, len(result.probe_tokens), len(result.probe_tokens))
    np.testing.assert_allclose(result.snapshots.sum(-1), 1, atol=1e-5)  # every snapshot row is a softmax
    assert result.grad_norm_qk.shape == (150, 2, 2) and (result.grad_norm_qk > 0).all()
    assert ((result.saturation > 0) & (result.saturation <= 1)).all()


def test_same_seed_same_weights_other_seed_other_weights():
    settings = Settings(steps=15, n_seq=16, batch=4, d_model=16, n_head=2, n_sequences=50)
    a, b = train(settings), train(settings)
    c = train(Settings(**{**settings.__dict__, "seed": 1}))
    for name in a.params:
        np.testing.assert_allclose(a.params[name], b.params[name], rtol=0, atol=1e-6)
    assert max(np.abs(a.params[k] - c.params[k]).max() for k in a.params) > 1e-3


def test_stop_early_and_bad_settings_say_what_to_do():
    calls = []
    result = train(SHORT, should_stop=lambda: len(calls) >= 5, progress=lambda *a: calls.append(a))
    assert result.stopped and len(result.losses) == 5 and result.snapshot_steps[-1] == 5
    with pytest.raises(ValueError, match="pick n_head from"):
        Settings(n_head=3).check()
    with pytest.raises(ValueError, match="n_layer must be a whole number from 1 to 2"):
        Settings(n_layer=3).check()
    with pytest.raises(ValueError, match="lr must be a number"):
        Settings(lr=float("nan")).check()


def test_fresh_batches_come_from_seed_and_step():
    from attention.train import corpus

    a, b = corpus.batch_at(0, 7, 6, 33, 0.5), corpus.batch_at(0, 7, 6, 33, 0.5)
    np.testing.assert_array_equal(a, b)  # the same (seed, step): the same sequences
    assert a.shape == (6, 33) and (a[:, 0] == corpus.vocabulary()["<bos>"]).all()
    for other in (corpus.batch_at(0, 8, 6, 33, 0.5), corpus.batch_at(1, 7, 6, 33, 0.5)):
        assert (other != a).any()  # another step or seed: other sequences, never the same ones again
    fixed = Settings(steps=3, n_seq=16, batch=4, d_model=16, n_head=2, n_sequences=50, fresh=False)
    assert not np.allclose(train(fixed).losses, train(Settings(**{**fixed.__dict__, "fresh": True})).losses)
    with pytest.raises(ValueError, match="fresh must be True or False"):
        Settings(fresh="yes").check()


@pytest.mark.parametrize("scale", [True, False])
def test_the_softmax_gradient_probe_is_autograd_of_the_softmax_input(scale):
    """‖∂loss/∂S‖, S = QKᵀ/√d_head + mask (the /train page's first scaling panel), against torch's S.grad."""
    rng = np.random.default_rng(3)
    n_batch, n_seq, n_head, d_model = 2, 7, 2, 16
    qkv = rng.standard_normal((n_batch, n_seq, 3 * d_model)).astype(np.float32)
    dout = rng.standard_normal((n_batch, n_seq, d_model)).astype(np.float32)
    _, cache = layers.attention_forward(qkv, n_head, scale)
    probe = []
    layers.attention_backward(dout, cache, probe)
    q, k, v = (torch.from_numpy(np.ascontiguousarray(x)).requires_grad_() for x in layers.split_qkv(qkv, n_head))
    s = q @ k.transpose(-1, -2) / (np.sqrt(d_model // n_head) if scale else 1.0)
    s = s + torch.from_numpy(layers.causal_bias(n_seq))
    s.retain_grad()
    out = (torch.softmax(s, -1) @ v).transpose(1, 2).reshape(n_batch, n_seq, d_model)
    (out * torch.from_numpy(dout)).sum().backward()
    assert probe == [pytest.approx(float(torch.linalg.norm(s.grad)), rel=1e-5)]

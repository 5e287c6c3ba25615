"""Bad numbers get a clear message that says what to do: in the backend as ValueError, on the page as a notice.

Decisions: d_head = 1 is legal attention (the core computes it exactly; each score is a product of two numbers),
but the lecture model takes 1-8 heads of d_model = 24, so its d_head is at least 3 and n_head = 24 is refused
with the list of head counts that work. Edited weights must be finite and within ±100 (steps page).
"""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from attention import registry
from attention.core import attention, check_temperature, multi_head_attention, softmax, split_heads
from attention.lecture import D_MODEL, check_weights, run_lecture
from attention.presets import preset_weights

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
MINILM = pytest.mark.skipif("minilm" not in registry.available_models(), reason="MiniLM checkpoint not installed")
BAD_T = [0, -1, -0.0, float("nan"), float("inf"), -float("inf")]


def weights_with(value, name="w_k", at=(2, 5)):  # -> the identity preset with one entry replaced
    w = preset_weights("identity", 1)
    w[name] = w[name].copy()
    w[name][at] = value
    return w


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_weights_are_refused_with_their_place(value):
    with pytest.raises(ValueError, match=r"weights\['w_k'\] has NaN or inf at row 2, column 5; type a finite"):
        check_weights(weights_with(value))
    with pytest.raises(ValueError, match="NaN or inf"):
        run_lecture("the cat sat", weights=weights_with(value))


@pytest.mark.parametrize(
    "weights, message",
    [
        ({"w_q": np.eye(D_MODEL)}, "weights must be a dict with keys"),
        ({**preset_weights("identity", 1), "w_v": np.eye(3)}, r"must be \[24, 24\]"),
        ({**preset_weights("identity", 1), "w_o": [["a"] * D_MODEL] * D_MODEL}, "must hold numbers only"),
        ("not a dict", "weights must be a dict"),
    ],
)
def test_malformed_weights(weights, message):
    with pytest.raises(ValueError, match=message):
        run_lecture("the cat sat", weights=weights)


@pytest.mark.parametrize("t", BAD_T)
def test_temperature_must_be_positive_everywhere(t):
    for call in (
        lambda: check_temperature(t),
        lambda: softmax(np.zeros(3), temperature=t),
        lambda: attention(np.ones((2, 4)), np.ones((2, 4)), np.ones((2, 4)), temperature=t),
        lambda: run_lecture("the cat sat", temperature=t),
        lambda: registry.run(registry.LECTURE, "the cat sat", temperature=t),
    ):
        with pytest.raises(ValueError, match=r"temperature must be > 0 \(got .*\); try 0.5-2"):
            call()


@MINILM
@pytest.mark.parametrize("t", [0, -2, float("nan")])
def test_temperature_real_model(t):
    with pytest.raises(ValueError, match=r"temperature must be > 0.*try 0.5-2"):
        registry.run("minilm", "the cat sat", temperature=t)


@pytest.mark.parametrize("n_head", [5, 7, 9, 16, 0, -1, 2.0, "2", True])
def test_head_count_must_divide_d_model(n_head):
    with pytest.raises(ValueError, match=r"n_head must .*d_model = 24.*try one of \[1, 2, 3, 4, 6, 8\]"):
        run_lecture("the cat sat", n_head=n_head)
    if n_head not in (True, 2.0, "2"):  # the core takes any int that divides d_model
        with pytest.raises(ValueError, match=r"n_head must divide d_model = 24 \(got"):
            split_heads(np.zeros((3, D_MODEL), np.float32), n_head)


def test_head_count_core_message_names_the_choices():
    x = np.ones((3, 10), np.float32)
    with pytest.raises(ValueError, match=r"n_head must divide d_model = 10 \(got 3\); try one of \[1, 2, 5\]"):
        multi_head_attention(x, *(np.eye(10),) * 4, n_head=3)


def test_d_head_one_is_exact_attention():
    """d_model = n_head: each head scores with one number per token. Checked against a naive float64 loop."""
    rng = np.random.default_rng(0)
    n_seq, d_model = 5, 4
    x = rng.standard_normal((n_seq, d_model)).astype(np.float32)
    w = [rng.standard_normal((d_model, d_model)).astype(np.float32) for _ in range(4)]
    out = multi_head_attention(x, *w, n_head=d_model)
    assert out.heads.queries.shape == (d_model, n_seq, 1)
    q, k, v = (x.astype(np.float64) @ m for m in w[:3])
    concat = np.zeros((n_seq, d_model))
    for h in range(d_model):
        for i in range(n_seq):
            scores = [q[i, h] * k[j, h] / math.sqrt(1) for j in range(n_seq)]
            e = [math.exp(s - max(scores)) for s in scores]
            concat[i, h] = sum(e[j] / sum(e) * v[j, h] for j in range(n_seq))
    np.testing.assert_allclose(out.output, concat @ w[3], rtol=1e-4, atol=1e-5)


def test_lecture_model_refuses_d_head_one():
    with pytest.raises(ValueError, match=r"n_head must be 1-8 and divide d_model = 24 \(got 24\); try one of"):
        run_lecture("the cat sat", n_head=24)


@pytest.mark.parametrize("alpha", [-0.01, 1.01, 2, float("nan"), float("inf"), "half", None])
def test_alpha_must_be_a_fraction(alpha):
    with pytest.raises(ValueError, match=r"alpha must be between 0 and 1 \(got .*\); 0 keeps the embeddings"):
        run_lecture("the cat sat", alpha=alpha)


@pytest.mark.parametrize("alpha", [0, 0.0, 1, 1.0])
def test_alpha_edges_are_legal(alpha):
    run = run_lecture("the cat sat", alpha=alpha)
    expected = run.hidden[0] if alpha == 0 else run.attn_out[0]  # 0 keeps x; 1 replaces it by the attention output
    np.testing.assert_allclose(run.hidden[1], expected, atol=1e-6)


@pytest.mark.parametrize("steps", [0, 9, -1, 1.5, True])
def test_steps_range(steps):
    with pytest.raises(ValueError, match=r"steps must be a whole number from 1 to 8"):
        run_lecture("the cat sat", steps=steps)


# --- on the page ---------------------------------------------------------------------------------------


def open_steps():  # -> AppTest on /steps with the default (identity, 1 head) editors
    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    at.switch_page("pages/steps.py").run()
    return at


def steps_figures(at):  # -> the decoded specs of the stage grids (Q/K/V onwards): every tab after the first
    """Each of /steps' tabs draws only when open (as a click opens it); the first tab is open again at the end."""
    labels = [t.label for t in at.tabs if t.label not in ("W_q", "W_k", "W_v", "W_o")]  # not the editors' tabs
    specs = []
    for label in labels[1:]:
        at.session_state["steps_part"] = label
        specs += [json.loads(c.proto.spec) for c in at.run().get("plotly_chart")]
    at.session_state["steps_part"] = labels[0]
    at.run()
    return specs


@pytest.mark.parametrize(
    "value, message",
    [
        (None, "is empty or not a number; type a number there or press Reset"),
        (float("nan"), "is empty or not a number"),
        (float("inf"), "is empty or not a number"),
        (-float("inf"), "is empty or not a number"),
        (1e6, "is too large; keep weights within ±100"),
    ],
)
def test_edited_weight_errors_on_the_steps_page(value, message):
    at = open_steps()
    before = steps_figures(at)
    at.session_state["edit_w_k_identity_1_0_0"] = {"edited_rows": {2: {"animal": value}}, "added_rows": [], "deleted_rows": []}  # fmt: skip
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    errors = [e.value.replace("\\", "") for e in at.error]
    assert len(errors) == 1 and errors[0].startswith("W_k[animal, animal]") and message in errors[0], errors
    assert steps_figures(at) == before  # the bad edit is replaced by the preset: every figure as before


def test_a_good_edit_changes_the_figures():
    """The positive control for the test above: a finite edit reaches the figures."""
    at = open_steps()
    before = steps_figures(at)
    at.session_state["edit_w_k_identity_1_0_0"] = {"edited_rows": {0: {"food": 5.0}}, "added_rows": [], "deleted_rows": []}  # fmt: skip
    at.run()
    assert not at.exception and not at.error
    assert steps_figures(at) != before


@pytest.mark.parametrize(
    "query, key, says",
    [
        ({"temperature": "0"}, "temperature", "must be a number from 0.1 to 5.0"),
        ({"temperature": "-1"}, "temperature", "must be a number from 0.1 to 5.0"),
        ({"n_head": "5"}, "n_head", "must be one of 1, 2, 3, 4, 6, 8"),
        ({"n_head": "24"}, "n_head", "must be one of 1, 2, 3, 4, 6, 8"),  # d_head = 1
        ({"alpha": "1.5"}, "alpha", "must be a number from 0.0 to 1.0"),
        ({"alpha": "-0.1"}, "alpha", "must be a number from 0.0 to 1.0"),
        ({"alpha": "nan"}, "alpha", "must be a number from 0.0 to 1.0"),
        ({"steps": "0"}, "steps", "must be between 1 and 8"),
    ],
)
def test_bad_numbers_in_the_link_say_why(query, key, says):
    at = AppTest.from_file(APP, default_timeout=300)
    for k, v in query.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception
    notices = [w.value.replace("\\", "") for w in at.warning]
    assert any(n.startswith(f"`{key}`") and says in n and "using the default" in n for n in notices), notices

"""The attention core against independent references: a naive float64 loop, and torch's own attention."""

import math

import numpy as np
import pytest

from attention.core import attention, causal_mask, combine_masks, key_mask, multi_head_attention

# --- a naive reference, one element at a time, in float64 -----------------------------------------------------


def naive_attention(q, k, v, allowed, temperature, kind):  # [n_seq, d_head] lists, [n_seq][n_seq] bool -> w, out
    """softmax(sim(q_i, k_j) · scale / temperature) over the allowed j, then Σ_j w_ij v_j; written from the formula."""
    n_seq, d_head = len(q), len(q[0])

    def dot(a, b):
        return sum(float(a[d]) * float(b[d]) for d in range(d_head))

    def score(i, j):
        if kind == "cosine":
            norm = math.sqrt(dot(q[i], q[i])) * math.sqrt(dot(k[j], k[j]))
            return dot(q[i], k[j]) / norm if norm > 0 else 0.0
        return dot(q[i], k[j]) / math.sqrt(d_head)

    weights = [[0.0] * n_seq for _ in range(n_seq)]
    output = [[0.0] * d_head for _ in range(n_seq)]
    for i in range(n_seq):
        keys = [j for j in range(n_seq) if allowed[i][j]]
        if not keys:
            continue  # a query that may look at nothing gets zero weights and a zero output
        logits = {j: score(i, j) / temperature for j in keys}
        top = max(logits.values())
        total = sum(math.exp(s - top) for s in logits.values())
        for j in keys:
            weights[i][j] = math.exp(logits[j] - top) / total
        for d in range(d_head):
            output[i][d] = sum(weights[i][j] * float(v[j][d]) for j in range(n_seq))
    return np.array(weights), np.array(output)


def naive_matmul(a, b):  # [n, m], [m, p] -> [n, p]
    return np.array(
        [[sum(float(a[i][t]) * float(b[t][j]) for t in range(len(b))) for j in range(len(b[0]))] for i in range(len(a))]
    )


def naive_multi_head(x, w_q, w_k, w_v, w_o, b, n_head, allowed, temperature, kind):  # -> weights [n_head, ...], out
    """Project, cut the features into n_head slices, attend per slice, concatenate, project with W_o."""
    q, k, v = (naive_matmul(x, w) + bias for w, bias in zip((w_q, w_k, w_v), b[:3], strict=True))
    d_head = q.shape[1] // n_head
    weights, outputs = [], []
    for h in range(n_head):
        cut = slice(h * d_head, (h + 1) * d_head)
        w, o = naive_attention(q[:, cut], k[:, cut], v[:, cut], allowed, temperature, kind)
        weights.append(w)
        outputs.append(o)
    concat = np.concatenate(outputs, axis=1)
    return np.array(weights), concat, naive_matmul(concat, w_o) + b[3]


def random_case(seed, n_seq, d_model):  # -> x, [w_q, w_k, w_v, w_o], [b_q, b_k, b_v, b_o], all float32
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n_seq, d_model)).astype(np.float32)
    ws = [(rng.standard_normal((d_model, d_model)) / np.sqrt(d_model)).astype(np.float32) for _ in range(4)]
    bs = [(0.1 * rng.standard_normal(d_model)).astype(np.float32) for _ in range(4)]
    return x, ws, bs


def masks(name, n_seq, rng):  # -> [n_seq, n_seq] bool or None
    keep = rng.random(n_seq) < 0.7
    keep[0] = True  # the first key is always kept, so under the causal mask no row is empty
    return {
        "none": None,
        "causal": causal_mask(n_seq),
        "key": key_mask(keep),
        "causal+key": combine_masks(causal_mask(n_seq), key_mask(keep)),
        "empty row": np.repeat(np.arange(n_seq)[:, None] != 1, n_seq, axis=1),  # query 1 may look at nothing
    }[name]


MASKS = ["none", "causal", "key", "causal+key", "empty row"]
CASES = [(kind, t, m) for kind in ("dot", "cosine") for t in (1.0, 0.5, 3.0) for m in MASKS]


@pytest.mark.parametrize(("kind", "temperature", "mask_name"), CASES)
def test_single_head_matches_a_naive_loop(kind, temperature, mask_name):
    rng = np.random.default_rng(CASES.index((kind, temperature, mask_name)))
    n_seq, d_head = 7, 5
    q, k, v = (rng.standard_normal((n_seq, d_head)).astype(np.float32) for _ in range(3))
    mask = masks(mask_name, n_seq, rng)
    allowed = np.ones((n_seq, n_seq), bool) if mask is None else mask
    ours = attention(q, k, v, mask=mask, temperature=temperature, similarity_kind=kind)
    weights, output = naive_attention(q, k, v, allowed, temperature, kind)
    np.testing.assert_allclose(ours.weights[0], weights, rtol=0, atol=1e-6)
    np.testing.assert_allclose(ours.output[0], output, rtol=0, atol=1e-6)


@pytest.mark.parametrize(("kind", "temperature", "mask_name"), CASES)
@pytest.mark.parametrize("n_head", [1, 2, 4])
def test_multi_head_matches_a_naive_loop(kind, temperature, mask_name, n_head):
    n_seq, d_model = 6, 8
    x, ws, bs = random_case(n_head * 1000 + len(mask_name), n_seq, d_model)
    mask = masks(mask_name, n_seq, np.random.default_rng(n_head))
    allowed = np.ones((n_seq, n_seq), bool) if mask is None else mask
    b_q, b_k, b_v, b_o = bs
    ours = multi_head_attention(
        x, *ws, n_head, b_q, b_k, b_v, b_o, mask=mask, temperature=temperature, similarity_kind=kind
    )
    weights, concat, output = naive_multi_head(x, *ws, bs, n_head, allowed, temperature, kind)
    np.testing.assert_allclose(ours.heads.weights, weights, rtol=0, atol=1e-6)
    np.testing.assert_allclose(ours.concat, concat, rtol=0, atol=1e-6)
    np.testing.assert_allclose(ours.output, output, rtol=0, atol=1e-6)


def test_intermediate_stages_match_their_formulas():
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal((2, 4, 3)).astype(np.float32) for _ in range(3))
    out = attention(q, k, v, mask=causal_mask(4), temperature=2.0)
    raw = np.array([[[float(np.dot(q[h, i], k[h, j])) for j in range(4)] for i in range(4)] for h in range(2)])
    np.testing.assert_allclose(out.scores, raw, atol=1e-6)
    np.testing.assert_allclose(out.scaled, raw / math.sqrt(3), atol=1e-6)
    np.testing.assert_array_equal(np.isneginf(out.masked), ~causal_mask(4)[None].repeat(2, 0))
    np.testing.assert_allclose(out.output, out.weights @ v, atol=1e-6)


def test_without_scaling_the_weights_are_the_softmax_of_plain_dot_products():
    rng = np.random.default_rng(1)
    q, k, v = (rng.standard_normal((6, 4)).astype(np.float32) for _ in range(3))
    ours = attention(q, k, v, scale=False)
    weights, output = naive_attention(q * 2, k, v, np.ones((6, 6), bool), 1.0, "dot")  # ·2 undoes the ÷√4
    np.testing.assert_allclose(ours.weights[0], weights, atol=1e-6)
    np.testing.assert_allclose(ours.output[0], output, atol=1e-6)


def test_an_additive_minus_10000_bias_acts_like_a_padding_mask():
    """BERT-style checkpoints add -10000 to padded keys instead of masking them; the weights must agree."""
    rng = np.random.default_rng(2)
    q, k, v = (rng.standard_normal((2, 7, 4)).astype(np.float32) for _ in range(3))
    keep = np.array([1, 1, 0, 1, 0, 1, 1], bool)
    masked = attention(q, k, v, mask=key_mask(keep))
    biased = attention(q, k, v, bias=np.where(keep, 0.0, -10000.0)[None, None, :])
    np.testing.assert_allclose(biased.weights, masked.weights, atol=1e-6)
    weights, _ = naive_attention(q[1], k[1], v[1], key_mask(keep), 1.0, "dot")
    np.testing.assert_allclose(biased.weights[1], weights, atol=1e-6)


# --- torch ------------------------------------------------------------------------------------------------------


@pytest.mark.torch
@pytest.mark.parametrize("mask_name", ["none", "causal", "key", "causal+key"])
@pytest.mark.parametrize("temperature", [1.0, 0.5, 2.0])
@pytest.mark.parametrize("n_head", [1, 3])
def test_scaled_dot_product_attention_matches_torch(mask_name, temperature, n_head):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(n_head * 10 + len(mask_name))
    n_seq, d_head = 9, 8
    q, k, v = (rng.standard_normal((n_head, n_seq, d_head)).astype(np.float32) for _ in range(3))
    mask = masks(mask_name, n_seq, rng)
    ours = attention(q, k, v, mask=mask, temperature=temperature)
    tq, tk, tv = (torch.from_numpy(a).double() for a in (q, k, v))
    attn_mask = None if mask is None else torch.from_numpy(mask)  # torch: True = may take part
    theirs = torch.nn.functional.scaled_dot_product_attention(
        tq, tk, tv, attn_mask=attn_mask, scale=1 / (math.sqrt(d_head) * temperature)
    )
    np.testing.assert_allclose(ours.output, theirs.numpy(), rtol=0, atol=1e-5)
    if mask_name == "causal":  # torch's own causal flag builds the same lower triangle
        causal = torch.nn.functional.scaled_dot_product_attention(
            tq, tk, tv, is_causal=True, scale=1 / (math.sqrt(d_head) * temperature)
        )
        np.testing.assert_allclose(ours.output, causal.numpy(), rtol=0, atol=1e-5)


def torch_mha(torch, ws, bs, n_head):  # our x @ W weights copied into torch's layout
    w_q, w_k, w_v, w_o = (torch.from_numpy(w).double() for w in ws)
    b_q, b_k, b_v, b_o = (torch.from_numpy(b).double() for b in bs)
    d_model = w_q.shape[0]
    mha = torch.nn.MultiheadAttention(d_model, n_head, bias=True, batch_first=True, dtype=torch.float64).eval()
    with torch.no_grad():
        mha.in_proj_weight.copy_(torch.cat([w_q.T, w_k.T, w_v.T]))  # [3 * d_model, d_model]: torch computes x Wᵀ
        mha.in_proj_bias.copy_(torch.cat([b_q, b_k, b_v]))
        mha.out_proj.weight.copy_(w_o.T)
        mha.out_proj.bias.copy_(b_o)
    return mha


@pytest.mark.torch
@pytest.mark.parametrize("mask_name", ["none", "causal", "key", "causal+key"])
@pytest.mark.parametrize("n_head", [1, 2, 4, 8])
def test_multi_head_attention_matches_torch_multihead(mask_name, n_head):
    torch = pytest.importorskip("torch")
    n_seq, d_model = 10, 16
    x, ws, bs = random_case(n_head * 7 + len(mask_name), n_seq, d_model)
    rng = np.random.default_rng(n_head)
    keep = rng.random(n_seq) < 0.7
    keep[0] = True
    causal = mask_name.startswith("causal")
    padded = mask_name.endswith("key")
    mask = combine_masks(causal_mask(n_seq) if causal else None, key_mask(keep) if padded else None)
    ours = multi_head_attention(x, *ws, n_head, *bs, mask=mask)

    mha = torch_mha(torch, ws, bs, n_head)
    tx = torch.from_numpy(x).double()[None]  # [1, n_seq, d_model]
    kwargs = {
        "attn_mask": torch.from_numpy(~causal_mask(n_seq)) if causal else None,  # torch: True = may NOT attend
        "key_padding_mask": torch.from_numpy(~keep)[None] if padded else None,
    }
    with torch.no_grad():
        out, per_head = mha(tx, tx, tx, need_weights=True, average_attn_weights=False, **kwargs)
        _, averaged = mha(tx, tx, tx, need_weights=True, average_attn_weights=True, **kwargs)
    np.testing.assert_allclose(ours.output, out[0].numpy(), rtol=0, atol=1e-5)
    np.testing.assert_allclose(ours.heads.weights, per_head[0].numpy(), rtol=0, atol=1e-5)
    np.testing.assert_allclose(ours.heads.weights.mean(0), averaged[0].numpy(), rtol=0, atol=1e-5)

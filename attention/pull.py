"""Context pull and its picture: x' = (1 − α)·x + α·attention(x), seen through one PCA fit.

The PCA is fitted once on everything shown together (before, after, reference words), so the before
and after points share axes and an arrow between them means movement, not a change of view.
"""

from dataclasses import dataclass

import numpy as np


def context_pull(x, attn_output, alpha):  # [n_seq, d_model], [n_seq, d_model], float -> [n_seq, d_model]
    """(1 − α)·x + α·attention output: α = 0 keeps x, α = 1 replaces it by what attention gathered."""
    x, attn_output = np.asarray(x, dtype=np.float32), np.asarray(attn_output, dtype=np.float32)
    if x.shape != attn_output.shape:
        raise ValueError(
            f"x and attn_output must have the same shape (got {list(x.shape)} and {list(attn_output.shape)})"
        )
    try:
        a = float(alpha)
    except (TypeError, ValueError):
        a = float("nan")
    if not (np.isfinite(a) and 0.0 <= a <= 1.0):
        raise ValueError(f"alpha must be between 0 and 1 (got {alpha!r}); 0 keeps the embeddings, 1 replaces them")
    return ((1.0 - a) * x + a * attn_output).astype(np.float32)


@dataclass
class Projection:
    """Points in the PCA plane (or space) fitted on before + after (+ reference) together."""

    before: np.ndarray  # [n_seq, k]
    after: np.ndarray  # [n_seq, k]
    reference: np.ndarray | None  # [n_ref, k]
    explained_variance_ratio: np.ndarray  # [k] share of the total variance each component keeps


def _check_components(n_components):
    if isinstance(n_components, bool) or n_components not in (1, 2, 3):
        raise ValueError(f"n_components must be 1, 2 (a plane) or 3 (a 3-D view) (got {n_components!r})")


def _as_rows(name, a, d_model=None):  # -> [n, d_model] float64
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 2 or (d_model is not None and a.shape[1] != d_model):
        want = f"[n, {d_model}]" if d_model is not None else "[n, d_model]"
        raise ValueError(f"{name} must be a {want} array of vectors (got shape {list(a.shape)})")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} holds NaN or inf; the vectors must be finite to project them")
    return a


def fit_pca(stacked, n_components):  # [n, d_model] -> ([n, k] float32, [k] float32)
    """One scikit-learn PCA fit; components the data cannot fill (too few points, no spread) are 0."""
    from sklearn.decomposition import PCA

    n, d_model = stacked.shape
    points = np.zeros((n, n_components), dtype=np.float32)
    ratio = np.zeros(n_components, dtype=np.float32)
    centred = stacked - stacked.mean(axis=0)
    total = float((centred**2).sum())
    if total <= 1e-12 * max(1.0, float((stacked**2).sum())):
        return points, ratio  # every point is the same: nothing to show, no variance to explain
    k = min(n_components, n, d_model)
    pca = PCA(n_components=k, svd_solver="full")
    points[:, :k] = pca.fit_transform(stacked)
    ratio[:k] = pca.explained_variance_ratio_
    return points, ratio


def pca_project(before, after, reference=None, n_components=2):  # [n_seq, d_model] x2, [n_ref, d_model] -> Projection
    """Before and after (and reference words) in one PCA, so arrows from before to after mean something."""
    _check_components(n_components)
    before = _as_rows("before", before)
    after = _as_rows("after", after, before.shape[1])
    if after.shape != before.shape:
        raise ValueError(
            f"before and after must have the same shape (got {list(before.shape)} and {list(after.shape)})"
        )
    parts = [before, after] + ([] if reference is None else [_as_rows("reference", reference, before.shape[1])])
    points, ratio = fit_pca(np.concatenate(parts), n_components)
    n = len(before)
    ref = None if reference is None else points[2 * n :]
    return Projection(points[:n], points[n : 2 * n], ref, ratio)


def pca_trajectories(
    hidden, reference=None, n_components=2
):  # [n_layer+1, n_seq, d_model] -> ([n_layer+1, n_seq, k], [n_ref, k] | None, [k])
    """Every layer's hidden states (and reference words) in one PCA: each token's path through the layers."""
    _check_components(n_components)
    hidden = np.asarray(hidden, dtype=np.float64)
    if hidden.ndim != 3:
        raise ValueError(f"hidden must be [n_layer + 1, n_seq, d_model] (got shape {list(hidden.shape)})")
    n_states, n_seq, d_model = hidden.shape
    parts = [_as_rows("hidden", hidden.reshape(-1, d_model))]
    if reference is not None:
        parts.append(_as_rows("reference", reference, d_model))
    points, ratio = fit_pca(np.concatenate(parts), n_components)
    ref = None if reference is None else points[n_states * n_seq :]
    return points[: n_states * n_seq].reshape(n_states, n_seq, n_components), ref, ratio


def top_context(weights_row, tokens, k=3, exclude=None):  # [n_seq], list[str] n_seq -> list[(str, float)]
    """The k tokens this query attends to most, heaviest first (weight 0, e.g. masked, never listed).

    exclude: a position to leave out, e.g. the query itself, to show only its context.
    """
    w = np.asarray(weights_row, dtype=np.float64)
    if w.ndim != 1 or len(w) != len(tokens):
        raise ValueError(f"weights_row must have one weight per token (got {list(w.shape)} for {len(tokens)} tokens)")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
        raise ValueError(f"k must be a whole number >= 0 (got {k!r}); try 3")
    order = sorted(range(len(w)), key=lambda j: (-w[j], j))  # heaviest first; ties: earlier token first
    picked = [j for j in order if j != exclude and w[j] > 0][:k]
    return [(tokens[j], float(w[j])) for j in picked]

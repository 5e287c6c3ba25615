"""The views that `attention.show` and `attention figure` draw, each the same figure its page shows.

A view is a function `(run, layer, head, present, **options) -> go.Figure` registered with `@view(name, needs)`;
a page that adds a figure adds its view here, and the notebook API and the CLI pick it up.
"""

from dataclasses import dataclass

import numpy as np

REFERENCE_PER_AXIS = 5  # reference words per meaning axis behind the lecture model's pull (as on the pages)


@dataclass(frozen=True)
class View:
    name: str
    build: object  # (run, layer, head, present, **options) -> go.Figure
    needs: tuple  # Run fields the view reads beyond tokens and weights, e.g. ("queries", "keys")
    page: str  # the dashboard page that shows the same figure
    doc: str


VIEWS = {}  # name -> View, in the order they were registered


def view(name, page, needs=()):
    """Register a view: `@view("weights", "/")` over a function (run, layer, head, present, **options) -> Figure."""

    def register(build):
        VIEWS[name] = View(name, build, tuple(needs), page, (build.__doc__ or "").strip())
        return build

    return register


def check_index(what, value, size):  # -> int in [0, size)
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value < size:
        raise ValueError(f"{what} must be an integer from 0 to {size - 1} for this run (got {value!r})")
    return int(value)


def token_index(run, word):  # int | str | None -> int: a token's position, by position, label or text
    """None picks the sentence's ambiguous word (apple, bank, ...) or else the token that moves most."""
    from .figures.common import token_labels

    if word is None:
        from .vocab import AMBIGUOUS

        hits = [i for i, t in enumerate(run.tokens) if str(t).lower() in AMBIGUOUS]
        moved = np.linalg.norm(run.hidden[-1] - run.hidden[0], axis=-1) if run.hidden.shape[-1] else [0]
        return hits[0] if hits else int(np.argmax(moved))
    if isinstance(word, str):
        labels = token_labels(run.tokens)
        for names in (labels, list(run.tokens)):
            if word in names:
                return names.index(word)
        if word.isdigit():
            return check_index("word", int(word), run.n_seq)
        raise ValueError(f"word {word!r} is not a token of this run; pass one of {labels} or a position")
    return check_index("word", word, run.n_seq)


@view("weights", "/ (Overview) and /heads")
def weights_view(run, layer=0, head=0, present=False):
    """One head's softmax weights [n_seq, n_seq]: each row a query, each column a key."""
    from .figures.heatmaps import attention_heatmap

    title = f"Attention weights · layer {layer}, head {head}"
    return attention_heatmap(run.weights[layer, head], run.tokens, title=title, present=present, height=560)


def score_panels(run, layer, head):  # -> the four Panels of /steps' "scores become weights", [n_seq, n_seq] each
    from .figures.common import token_labels
    from .figures.steps import Panel
    from .run import stages

    st_, rows = stages(run, layer, head), [*token_labels(run.tokens)]
    mask = np.ones((run.n_seq, run.n_seq), dtype=bool) if run.mask is None else run.mask
    shape = "[n_seq, n_seq]"
    return [
        Panel("QKᵀ" if run.similarity == "dot" else "cos(q, k)", st_.scores[0], rows, rows, shape),
        Panel(f"× {st_.scale:.3g}" + (" (÷√d_head)" if st_.scale != 1 else ""), st_.scaled[0], rows, rows, shape),
        Panel("mask" + (" (causal)" if run.mask is not None else " (none)"), mask, rows, rows, shape, "mask"),
        Panel(f"softmax(· / {run.temperature:g})", st_.weights[0], rows, rows, shape, "weights"),
    ]


@view("stages", "/scores and /steps", needs=("queries", "keys", "values"))
def stages_view(run, layer=0, head=0, present=False, stage="all"):
    """One head from raw QKᵀ to softmax weights. stage: "all" (four panels, as /steps), or one of "raw",
    "scaled", "masked", "weights" (one heatmap, as /scores)."""
    if stage == "all":
        from .figures.steps import stage_grid

        return stage_grid(score_panels(run, layer, head), n_cols=2, present=present)
    from .figures.heatmaps import STAGE_TITLES, stage_heatmap
    from .run import stages

    if stage not in STAGE_TITLES:
        raise ValueError(f"stage must be 'all' or one of {list(STAGE_TITLES)} (got {stage!r})")
    title = f"{STAGE_TITLES[stage]} · layer {layer}, head {head}"
    return stage_heatmap(stages(run, layer, head), stage, run.tokens, present=present, title=title)


@view("heads", "/heads")
def heads_view(run, layer=0, head=None, present=False):
    """Every head of one layer side by side, on one colour scale; `head` outlines one of them."""
    from .figures.heads import head_grid

    names = [f"head {h}" for h in range(run.n_head)]
    return head_grid(run.weights[layer], run.tokens, titles=names, present=present, selected=head)


def pull_paths(run, k=2):  # -> (paths [n_layer+1, n_seq, k], reference [n_ref, k] | None, words, groups, evr [k])
    """Every token's path through the layers in one PCA; the lecture model's on its meaning axes, with
    reference words of the sentence's own topics behind (position left out: it would spread the words out)."""
    from .pull import pca_trajectories

    if run.model != "lecture":
        paths, _, evr = pca_trajectories(run.hidden, n_components=k)
        return paths, None, [], [], evr
    from .figures.pull import lecture_reference
    from .lecture import AXES

    vectors, words, groups = lecture_reference(run.tokens, run.hidden[0], per_axis=REFERENCE_PER_AXIS)
    paths, reference, evr = pca_trajectories(run.hidden[:, :, : len(AXES)], reference=vectors, n_components=k)
    return paths, reference, words, groups, evr


@view("pull", "/ (Overview) and /pull", needs=("hidden",))
def pull_view(run, layer=None, head=None, present=False, word=None, k=2):
    """Each token before (hollow) and after (filled) attention in one PCA (k = 2 or 3 components), with arrows;
    `word` (a position or a token) is followed and the words it looks at most are named."""
    from .figures.pull import pull_figure
    from .pull import top_context

    i = token_index(run, word)
    paths, reference, words, groups, evr = pull_paths(run, k)
    context = top_context(run.weights[:, :, i].mean(axis=(0, 1)), run.tokens, k=2, exclude=i)
    return pull_figure(run.tokens, paths, evr, reference=reference, reference_words=words, reference_groups=groups,
                       selected=i, context=context, present=present,
                       title="Context pull: before (hollow) → after (filled)")  # fmt: skip


def step_panels(run, layer, head, part):  # -> list[Panel]: one row of /steps for a real or a lecture run
    from .core import merge_heads
    from .figures.common import token_labels
    from .figures.steps import Panel
    from .run import stages

    st_, rows = stages(run, layer, head), [*token_labels(run.tokens)]
    dims = [str(i) for i in range(run.d_model)]
    cols = [str(i) for i in range(run.d_head)]
    if part == "x":
        return [Panel("X", run.hidden[layer], rows, dims, "[n_seq, d_model]")]
    if part == "qkv":
        qkv = (st_.queries, st_.keys, st_.values)
        return [Panel(n, a[0], rows, cols, "[n_seq, d_head]") for n, a in zip("QKV", qkv, strict=True)]
    if part == "scores":
        return score_panels(run, layer, head)
    concat = merge_heads(run.weights[layer] @ run.values[layer])  # [n_seq, n_head * d_head]
    panels = [
        Panel("weights·V", st_.output[0], rows, cols, "[n_seq, d_head]"),
        Panel("Concat(heads)", concat, rows, [str(i) for i in range(concat.shape[1])], "[n_seq, d_model]"),
    ]
    if run.attn_out.size:  # a Run from from_arrays / load has no W_o output
        panels.append(Panel("Concat·W_o", run.attn_out[layer], rows, dims, "[n_seq, d_model]"))
    return panels


STEP_PARTS = ("x", "qkv", "scores", "output")


@view("steps", "/steps", needs=("queries", "keys", "values", "hidden"))
def steps_view(run, layer=0, head=0, present=False, part="qkv"):
    """One row of the step-by-step computation with its real numbers. part: "x" (the input [n_seq, d_model]),
    "qkv" (Q, K, V [n_seq, d_head]), "scores" (QKᵀ to softmax) or "output" (weights·V, concat, W_o)."""
    from .figures.steps import stage_grid

    if part not in STEP_PARTS:
        raise ValueError(f"part must be one of {list(STEP_PARTS)} (got {part!r})")
    return stage_grid(step_panels(run, layer, head, part), n_cols=None if part != "output" else 2, present=present)

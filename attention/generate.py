"""Generation one token at a time with a KV cache (issue 19): each step's attention row, its next-token
distribution before and after temperature / top-k / top-p, the chosen token and the cache's size.

from attention.generate import generate, Sampling
g = generate(ckpt, "The capital of France is", 16, Sampling(temperature=0.8, top_k=40, seed=1))
Step t reads the sequence so far (prompt + t generated tokens): its `attention` [n_layer, n_head, n_seq] is the
newest token's row (step 0: the prompt's last token), and its distribution is the one the next token is drawn from.
"""

import json
from dataclasses import dataclass, field

import numpy as np

from .core import check_temperature
from .models.families import family
from .models.passes import forward, step
from .models.runner import TOP, encode, token_text

EOS_NAMES = ("<|endoftext|>", "</s>", "<|im_end|>", "<eos>")  # used when the checkpoint's config names no eos


@dataclass(frozen=True)
class Sampling:
    """How the next token is chosen: greedy (argmax), or drawn with numpy's Generator(seed) from
    softmax(logits / temperature) cut to the top_k most likely (0: all) and the top_p nucleus (1: all)."""

    greedy: bool = True
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    seed: int = 0

    def checked(self):  # -> self, or a ValueError that says what to type
        check_temperature(self.temperature)
        if not isinstance(self.top_k, (int, np.integer)) or self.top_k < 0:
            raise ValueError(f"top_k must be an integer >= 0 (got {self.top_k!r}); 0 keeps every token, try 40")
        if not 0 < float(self.top_p) <= 1:
            raise ValueError(f"top_p must be in (0, 1] (got {self.top_p!r}); 1 keeps every token, try 0.9")
        if not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise ValueError(f"seed must be an integer >= 0 (got {self.seed!r})")
        return self


@dataclass
class Step:
    """One generated token: what the model saw and how the token was chosen."""

    attention: np.ndarray  # [n_layer, n_head, n_seq]: the newest token's row (float32)
    top_ids: np.ndarray  # [20] int64: the model's most likely next tokens (temperature 1)
    top_tokens: list
    top_probs: np.ndarray  # [20]: their probabilities before reshaping
    after_probs: np.ndarray  # [20]: the same tokens' probabilities after temperature / top-k / top-p (greedy: 1 or 0)
    kept: int  # tokens with probability > 0 after reshaping (greedy: 1)
    id: int  # the chosen token
    token: str
    prob: float  # its probability under the model
    prob_after: float  # its probability under the reshaped distribution it was drawn from
    cache_bytes: int  # 2 · n_layer · n_kv_head · n_seq · d_head · 4 after this step's pass
    logits: np.ndarray | None = None  # [vocab] float32, only with keep_logits


@dataclass
class Generation:
    model: str
    prompt_ids: np.ndarray  # [n_prompt] int64
    prompt_tokens: list
    prompt_attention: np.ndarray  # [n_layer, n_head, n_prompt, n_prompt]: the prompt's own rows
    steps: list = field(default_factory=list)
    stop: str = ""  # "max_new_tokens" | "end of text" | "positions"
    sampling: Sampling = Sampling()
    shape: tuple = ()  # (n_layer, n_head, n_kv_head, d_head)

    @property
    def ids(self):  # [n_prompt + n_new] int64
        return np.concatenate([self.prompt_ids, np.array([s.id for s in self.steps], np.int64)])

    @property
    def tokens(self):
        return [*self.prompt_tokens, *(s.token for s in self.steps)]


def cache_bytes(config, n_seq):  # -> int: keys and values of every layer in float32
    return 2 * config.n_layer * config.n_kv_head * n_seq * config.d_head * 4


def eos_ids(ckpt):  # -> set[int]: the end-of-text ids (generation_config.json, config.json, else the tokenizer's)
    for name in ("generation_config.json", "config.json"):
        try:
            value = json.loads((ckpt.path / name).read_text()).get("eos_token_id")
        except (OSError, ValueError, AttributeError, TypeError):
            continue
        if value is not None:
            return {int(v) for v in (value if isinstance(value, list) else [value])}
    return {i for i in map(ckpt.tokenizer.token_to_id, EOS_NAMES) if i is not None}


def reshape(logits, sampling):  # [vocab] -> [vocab] float64 probabilities the next token is drawn from
    """Greedy: one-hot at the argmax. Else softmax(logits / T), keep the top_k largest (stable order: ties go to
    the lower id), then the smallest head of that order whose mass reaches top_p, renormalised."""
    z = np.asarray(logits, np.float64)
    p = np.zeros_like(z)
    if sampling.greedy:
        p[int(np.argmax(z))] = 1.0
        return p
    z = z / sampling.temperature
    order = np.argsort(-z, kind="stable")
    if sampling.top_k:
        order = order[: sampling.top_k]
    q = np.exp(z[order] - z[order[0]])
    q /= q.sum()
    if sampling.top_p < 1:
        before = np.cumsum(q) - q  # mass of the more likely tokens
        keep = before < sampling.top_p
        order, q = order[keep], q[keep] / q[keep].sum()
    p[order] = q
    return p


def choose(p, rng):  # [vocab] probabilities, Generator | None -> id
    """The argmax when nothing is random (greedy), else one uniform draw against the cumulative sum (ids in order)."""
    if rng is None:
        return int(np.argmax(p))
    cum = np.cumsum(p)
    return int(min(np.searchsorted(cum, rng.random() * cum[-1], side="right"), len(p) - 1))


def softmax64(z):  # [vocab] -> [vocab] float64
    e = np.exp(np.asarray(z, np.float64) - np.max(z))
    return e / e.sum()


def prompt_ids(ckpt, prompt):  # str | [n_prompt] ids -> (ids, tokens); a clear error for an encoder or a long prompt
    c = ckpt.config
    if not c.causal:
        raise ValueError(
            f"{ckpt.name} is an encoder: every token sees every other, so it does not write text one token at a time. "
            "Choose a decoder (gpt2, smollm2, qwen2.5, qwen3, tiny)."
        )
    if not isinstance(prompt, str):  # token ids already (benchmarks, tests)
        ids = np.asarray(prompt, np.int64).reshape(-1)
        n, tokens = len(ids), [token_text(ckpt.tokenizer)(i) for i in ids]
    elif not prompt.strip():
        raise ValueError("the prompt is empty; type the start of a text, e.g. 'The capital of France is'")
    else:
        tok = ckpt.tokenizer
        n = len(tok.encode(prompt, add_special_tokens=False).ids) + tok.num_special_tokens_to_add(False)
    if n > c.n_max:
        raise ValueError(f"the prompt is {n} tokens; {ckpt.name} reads at most {c.n_max}: shorten the prompt")
    if not isinstance(prompt, str):
        if not n:
            raise ValueError("the prompt has no tokens; give at least one token id")
        return ids, tokens
    ids, _, tokens, _, _ = encode(ckpt, prompt)
    return ids.astype(np.int64), tokens


def generate(ckpt, prompt, max_new_tokens, sampling=Sampling(), use_cache=True, keep_logits=False, on_step=None):
    """Up to max_new_tokens tokens after `prompt`, one pass per token through models.step with the KV cache (or,
    with use_cache=False, a full recompute of the whole sequence per token: the cost the cache saves). Stops at
    max_new_tokens, an end-of-text token, or when the model has no position left for the next token.
    on_step(gen) is called after each step (a page shows the tokens as they come). Returns a Generation."""
    sampling = sampling.checked()
    if not isinstance(max_new_tokens, (int, np.integer)) or max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be an integer >= 1 (got {max_new_tokens!r}); try 16")
    c, fam, text = ckpt.config, family(ckpt.config.arch), token_text(ckpt.tokenizer)
    ids, tokens = prompt_ids(ckpt, prompt)
    rng, eos = None if sampling.greedy else np.random.default_rng(sampling.seed), eos_ids(ckpt)
    out = forward(ckpt, ids)  # the prompt in one pass (threaded from PARALLEL_FROM tokens), cached or not
    hidden, rows = out["hidden"][-1], out["weights"]
    if use_cache:  # the prompt's keys (after RoPE) and values start the cache, one per KV head
        group = c.n_head // c.n_kv_head  # query head h reads KV head h // group, so every group-th is each KV head
        cache = [
            (np.ascontiguousarray(k[::group]), np.ascontiguousarray(v[::group]))
            for k, v in zip(out["keys"], out["values"], strict=True)
        ]
    gen = Generation(
        ckpt.name, ids, tokens, rows, sampling=sampling, shape=(c.n_layer, c.n_head, c.n_kv_head, c.d_head)
    )
    seq = list(ids)
    while True:
        logits = fam.logits(hidden[-1:], ckpt.weights, c)[0].astype(np.float32)
        p, after = softmax64(logits), reshape(logits, sampling)
        top = np.argsort(-p, kind="stable")[:TOP]
        new = choose(after, rng)
        gen.steps.append(Step(
            attention=rows[:, :, -1], top_ids=top, top_tokens=[text(i) for i in top],
            top_probs=p[top].astype(np.float32), after_probs=after[top].astype(np.float32),
            kept=int((after > 0).sum()), id=new, token=text(new), prob=float(p[new]), prob_after=float(after[new]),
            cache_bytes=cache_bytes(c, len(seq)), logits=logits if keep_logits else None,
        ))  # fmt: skip
        seq.append(new)
        if on_step is not None:
            on_step(gen)
        if len(gen.steps) >= max_new_tokens:
            gen.stop = "max_new_tokens"
        elif new in eos:
            gen.stop = "end of text"
        elif len(seq) >= c.n_max:
            gen.stop = "positions"
        if gen.stop:
            return gen
        if use_cache:
            hidden, cache, rows = step(ckpt, [new], cache, offset=len(seq) - 1, return_weights=True)
        else:
            out = forward(ckpt, np.array(seq))
            hidden, rows = out["hidden"][-1], out["weights"][:, :, -1:]


def to_json(gen):  # Generation -> dict for the CLI's gen.json
    """prompt_tokens, tokens (prompt + generated), ids, text settings and per step probs and attention."""
    return {
        "model": gen.model,
        "prompt_tokens": gen.prompt_tokens,
        "tokens": gen.tokens,
        "ids": [int(i) for i in gen.ids],
        "stop": gen.stop,
        "sampling": {k: getattr(gen.sampling, k) for k in ("greedy", "temperature", "top_k", "top_p", "seed")},
        "shape": dict(zip(("n_layer", "n_head", "n_kv_head", "d_head"), gen.shape, strict=True)),
        "steps": [
            {
                "id": s.id,
                "token": s.token,
                "prob": s.prob,
                "prob_after": s.prob_after,
                "cache_bytes": s.cache_bytes,
                "probs": {
                    "ids": [int(i) for i in s.top_ids],
                    "tokens": s.top_tokens,
                    "probabilities": [float(x) for x in s.top_probs],
                    "after": [float(x) for x in s.after_probs],
                },
                "attention": np.round(s.attention.astype(np.float64), 6).tolist(),
            }
            for s in gen.steps
        ],
    }

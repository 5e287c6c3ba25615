"""Train the tiny GPT-2 on the lecture corpus: Settings (validated), train() -> TrainResult, and what the
/train page draws along the way (loss, the gradient reaching W_q and W_k, softmax saturation, attention snapshots
on a probe sentence, the induction score).

    result = train(Settings(steps=300), progress=lambda step, steps, loss: print(step, loss))
    result.save("out/")  # config.json + model.safetensors + tokenizer.json
"""

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from . import corpus, optim
from .model import Config, attention_weights, forward, init_params, loss_and_grads

PROBE = "the dog ate the apple and then the dog ate the apple"  # repeats, so an induction head shows
N_PROBE_RUNS, PROBE_RUN_LENGTH = 16, 10  # the induction score's random sequences


@dataclass(frozen=True)
class Settings:
    """A training run. Every field is a lecturer's switch; check() says what to change when one is out of range."""

    steps: int = 1500
    seed: int = 0
    scale: bool = True  # divide QKᵀ by √d_head
    n_layer: int = 2
    n_head: int = 4
    d_model: int = 64
    n_seq: int = 32  # tokens per training sequence, also the model's positions
    batch: int = 16  # sequences per step
    lr: float = 3e-3  # peak learning rate
    warmup: int = 100  # steps of linear warm-up
    weight_decay: float = 0.1
    clip: float = 1.0  # global gradient-norm limit
    n_sequences: int = 4000  # size of the generated corpus (the unigram baseline's sample; the batches if not fresh)
    induction_share: float = corpus.INDUCTION_SHARE  # of the sequences: a random run, repeated
    threads: int = 1  # BLAS threads (on a busy machine, more threads spin and wait)
    fresh: bool = False  # draw every step's sequences anew (seeded by seed and step): no run can be memorised

    def check(self):  # -> self, or ValueError naming the setting and a value to try
        def whole(name, low, high, hint):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
                raise ValueError(f"{name} must be a whole number from {low} to {high} (got {value!r}); {hint}")

        def number(name, low, high, hint):
            value = getattr(self, name)
            ok = isinstance(value, (int, float, np.floating)) and not isinstance(value, bool)
            if not (ok and np.isfinite(value) and low <= value <= high):
                raise ValueError(f"{name} must be a number from {low} to {high} (got {value!r}); {hint}")

        whole("steps", 1, 100_000, "a few hundred show learning; the page allows up to 1500")
        whole("seed", 0, 2**32 - 1, "any whole number >= 0; the same seed gives the same run")
        whole("n_layer", 1, 2, "1 layer cannot form an induction head, 2 can")
        whole("n_head", 1, 16, "try 1, 2, 4 or 8")
        whole("d_model", 8, 512, "try 64")
        whole("n_seq", 8, 256, "try 32 or 64")
        whole("batch", 1, 256, "try 16")
        whole("warmup", 0, 100_000, "try 100")
        whole("n_sequences", 16, 1_000_000, "try 4000")
        number("lr", 1e-6, 1.0, "try 3e-3")
        number("weight_decay", 0.0, 1.0, "try 0.1")
        number("clip", 1e-3, 1e3, "try 1.0")
        number("induction_share", 0.0, 1.0, "try 0.1")
        whole("threads", 1, 64, "try 1, or the number of free cores")
        for name in ("scale", "fresh"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise ValueError(f"{name} must be True or False (got {getattr(self, name)!r})")
        if self.d_model % self.n_head:
            fits = [h for h in (1, 2, 4, 8, 16) if self.d_model % h == 0]
            raise ValueError(
                f"n_head={self.n_head} does not divide d_model={self.d_model}: d_head = d_model / n_head must be "
                f"whole; pick n_head from {fits} or change d_model"
            )
        return self

    def config(self):  # -> model Config
        n_vocab = len(corpus.vocabulary())
        return Config(n_vocab, self.n_seq, self.n_layer, self.n_head, self.d_model, bool(self.scale))


@dataclass
class TrainResult:
    settings: Settings
    config: Config
    params: dict  # GPT-2 tensor name -> float32 array: the final weights
    losses: np.ndarray  # [steps] training loss per step
    grad_norm_qk: np.ndarray  # [steps, n_layer, 2] norm of the gradient reaching W_q and W_k (before clipping)
    saturation: np.ndarray  # [steps, n_layer] mean over heads and queries of the largest softmax weight
    softmax_grad: np.ndarray  # [steps, n_layer] ‖∂loss/∂S‖: the gradient the softmax passes back to its input S
    snapshot_steps: np.ndarray  # [n_snap] steps done when each snapshot was taken (0 = before training)
    snapshots: np.ndarray  # [n_snap, n_layer, n_head, n_probe, n_probe] attention on the probe sentence
    probe_tokens: list[str]
    induction: np.ndarray  # [n_snap, n_layer, n_head] induction score of every head at each snapshot
    copy_accuracy: np.ndarray  # [n_snap] top-1 accuracy on the second half of repeated random runs
    unigram_loss: float  # the loss of always predicting the corpus's word frequencies
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # CPU time the run took: about its wall time on an idle machine (one thread)
    stopped: bool = False  # should_stop() ended the run early; the arrays cover the steps done
    notes: list[str] = field(default_factory=list)

    def save(self, path):  # -> Path: config.json + model.safetensors + tokenizer.json (+ training.json)
        summary = dict(
            seconds=round(self.seconds, 1),
            cpu_seconds=round(self.cpu_seconds, 1),
            machine=f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end",
            final_loss=round(float(self.losses[-50:].mean()), 4),
            unigram_loss=round(self.unigram_loss, 4),
            copy_accuracy=float(self.copy_accuracy[-1]),
            best_induction_score=round(float(self.induction[-1].max()), 3),
        )
        return save_checkpoint(self.params, self.config, path, training=asdict(self.settings) | summary)


def save_checkpoint(params, config, path, training=None):  # -> Path of the folder
    """A transformers-compatible GPT-2 checkpoint (Conv1D weights [n_in, n_out]) with our tokenizer."""
    from safetensors.numpy import save_file

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.json").write_text(json.dumps(config.hf_config(), indent=2) + "\n")
    save_file({k: np.ascontiguousarray(v, np.float32) for k, v in params.items()}, str(path / "model.safetensors"))
    corpus.save_tokenizer(path)
    if training is not None:
        (path / "training.json").write_text(json.dumps(training, indent=2) + "\n")
    return path


def encode_probe(text, n_pos):  # -> ([n] int, tokens): the probe sentence as the shipped tokenizer reads it
    enc = corpus.tokenizer().encode(text)
    if len(enc.ids) < 2:
        raise ValueError("the probe sentence has no words; type a sentence such as " + repr(PROBE))
    return np.array(enc.ids[:n_pos]), enc.tokens[:n_pos]


def induction_scores(weights, length):  # [n_layer, n_batch, n_head, n_seq, n_seq] on <bos> R R -> [n_layer, n_head]
    """Mean weight from R's second occurrence at position L + j onto position j + 1, the token after the first."""
    j = np.arange(1, length + 1)
    return weights[:, :, :, length + j, j + 1].mean(axis=(1, 3))


def copy_accuracy(logits, ids, length):  # [n_batch, n_seq, n_vocab], [n_batch, n_seq] -> float
    """Top-1 accuracy of predicting R's second occurrence from its second word on (the first is a guess)."""
    rows = np.arange(length + 1, 2 * length)  # position L + j predicts R[j + 1], for j = 1 .. L - 1
    return float((logits[:, rows].argmax(-1) == ids[:, rows + 1]).mean())


def evaluate(params, c, probe_ids, runs, length):  # -> (probe weights [n_layer, n_head, n, n], scores, accuracy)
    _, probe_cache = forward(params, probe_ids[None], c)
    logits, cache = forward(params, runs, c)
    scores = induction_scores(attention_weights(cache), length)
    return attention_weights(probe_cache)[:, 0], scores, copy_accuracy(logits, runs, length)


def unigram_loss(data):  # [n_sequences, n_tokens] -> float: cross-entropy of the target words' own frequencies
    counts = np.bincount(data[:, 1:].reshape(-1)).astype(np.float64)
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def train(settings=None, progress=None, snapshot_every=50, probe_text=None, should_stop=None):  # -> TrainResult
    """See run(); this one limits numpy's BLAS to settings.threads threads for the run."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits((settings or Settings()).threads):
        return run(settings, progress, snapshot_every, probe_text, should_stop)


def run(settings=None, progress=None, snapshot_every=50, probe_text=None, should_stop=None):  # -> TrainResult
    """Train from scratch. progress(step, steps, loss) is called after every step; should_stop() is asked every
    step and ends the run early when it returns True. A snapshot of every head's attention on probe_text (and the
    induction score and copy accuracy) is taken before training, every snapshot_every steps, and at the end."""
    s = (settings or Settings()).check()
    if isinstance(snapshot_every, bool) or not isinstance(snapshot_every, int) or snapshot_every < 1:
        raise ValueError(f"snapshot_every must be a whole number >= 1 (got {snapshot_every!r}); try 50")
    c = s.config()
    probe_ids, probe_tokens = encode_probe(probe_text or PROBE, c.n_pos)
    length = min(PROBE_RUN_LENGTH, (c.n_pos - 1) // 2)  # <bos> R R must fit in the model's positions
    data = corpus.corpus(s.seed, s.n_sequences, s.n_seq + 1, s.induction_share)
    runs = corpus.repeated_runs(s.seed + 1, N_PROBE_RUNS, length)
    params = init_params(c, np.random.default_rng(s.seed))
    state = optim.adamw_state(params)
    batches = np.random.default_rng(s.seed + 2)
    losses, qk_norms, saturation, softmax_grad, snaps = [], [], [], [], []

    def snapshot(step):
        snaps.append((step, *evaluate(params, c, probe_ids, runs, length)))

    start, cpu_start, stopped = time.perf_counter(), time.process_time(), False
    snapshot(0)
    for step in range(s.steps):
        if should_stop is not None and should_stop():
            stopped = True
            break
        if s.fresh:
            batch = corpus.batch_at(s.seed, step, s.batch, s.n_seq + 1, s.induction_share)
        else:
            batch = data[batches.integers(0, len(data), s.batch)]
        probe = []  # ‖∂loss/∂S‖ per layer, last layer first
        loss, grads, cache = loss_and_grads(params, batch[:, :-1], batch[:, 1:], c, probe)
        softmax_grad.append(probe[::-1])
        qk_norms.append(qk_gradient_norms(grads, c))
        saturation.append(attention_weights(cache)[..., 1:, :].max(-1).mean(axis=(1, 2, 3)))
        optim.clip_(grads, s.clip)
        optim.adamw_(params, grads, state, optim.lr_at(step, s.steps, s.lr, s.warmup), weight_decay=s.weight_decay)
        losses.append(loss)
        if progress is not None:
            progress(step + 1, s.steps, loss)
        if (step + 1) % snapshot_every == 0 or step + 1 == s.steps:
            snapshot(step + 1)
    if snaps[-1][0] != len(losses):
        snapshot(len(losses))
    steps, probes, scores, accuracy = zip(*snaps, strict=True)
    return TrainResult(
        settings=s,
        config=c,
        params=params,
        losses=np.array(losses, np.float32),
        grad_norm_qk=np.array(qk_norms, np.float32).reshape(-1, c.n_layer, 2),
        saturation=np.array(saturation, np.float32).reshape(-1, c.n_layer),
        softmax_grad=np.array(softmax_grad, np.float32).reshape(-1, c.n_layer),
        snapshot_steps=np.array(steps),
        snapshots=np.stack(probes),
        probe_tokens=probe_tokens,
        induction=np.stack(scores),
        copy_accuracy=np.array(accuracy),
        unigram_loss=unigram_loss(data),
        seconds=time.perf_counter() - start,
        cpu_seconds=time.process_time() - cpu_start,
        stopped=stopped,
    )


def qk_gradient_norms(grads, c):  # -> [n_layer, 2]: ‖∂loss/∂W_q‖, ‖∂loss/∂W_k‖ (W_q | W_k | W_v side by side)
    d = c.d_model
    out = []
    for i in range(c.n_layer):
        g = grads[f"h.{i}.attn.c_attn.weight"]
        out.append([np.linalg.norm(g[:, :d]), np.linalg.norm(g[:, d : 2 * d])])
    return out

"""Training speed: steps/s of our numpy trainer against the same GPT-2 and batch in torch (eager, CPU), both on the
same number of threads, measured in alternating rounds of the same run; and the shipped model's training time.

    python -m bench.run --only train
"""

import json
import time

import numpy as np

from attention import checkpoint
from attention.train import corpus, optim
from attention.train.cli import TINY
from attention.train.loop import Settings
from attention.train.model import init_params, loss_and_grads

TARGET = 1.0  # ours / torch steps per second


def ours_steps(params, state, c, batches, s):  # -> seconds for len(batches) steps
    start = time.perf_counter()
    for i, batch in enumerate(batches):
        _, grads, _ = loss_and_grads(params, batch[:, :-1], batch[:, 1:], c)
        optim.clip_(grads, s.clip)
        optim.adamw_(params, grads, state, optim.lr_at(i, s.steps, s.lr, s.warmup), weight_decay=s.weight_decay)
    return time.perf_counter() - start


def torch_setup(params, c, s):  # -> (model, optimizer): the same weights in transformers' GPT-2
    import torch
    import transformers

    cfg = {k: v for k, v in c.hf_config().items() if k not in ("model_type", "architectures")}
    model = transformers.GPT2LMHeadModel(transformers.GPT2Config(**cfg, attn_implementation="eager"))
    model.load_state_dict({"transformer." + k: torch.from_numpy(v.copy()) for k, v in params.items()}, strict=False)
    decay = [p for p in model.parameters() if p.ndim == 2]
    rest = [p for p in model.parameters() if p.ndim != 2]
    groups = [{"params": decay, "weight_decay": s.weight_decay}, {"params": rest, "weight_decay": 0.0}]
    return model, torch.optim.AdamW(groups, lr=s.lr, betas=(0.9, 0.95), eps=1e-8)


def torch_steps(model, opt, batches, s):  # -> seconds for len(batches) steps
    import torch

    start = time.perf_counter()
    for i, batch in enumerate(batches):
        b = torch.from_numpy(batch)
        for g in opt.param_groups:
            g["lr"] = optim.lr_at(i, s.steps, s.lr, s.warmup)
        logits = model(b[:, :-1]).logits
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), b[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), s.clip)
        opt.step()
    return time.perf_counter() - start


def shipped():  # -> dict: how the shipped model was trained (training.json), or {} if it is missing
    path = checkpoint.SHIPPED["tiny"] / "training.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def main(quick=False, rounds=None, steps=None, threads=1):  # -> dict
    import torch
    from threadpoolctl import threadpool_limits

    s = Settings(**{k: v for k, v in TINY.items() if k != "steps"}, threads=threads)
    c = s.config()
    rounds, steps = rounds or (2 if quick else 5), steps or (5 if quick else 40)
    data = corpus.corpus(s.seed, s.n_sequences, s.n_seq + 1, s.induction_share)
    rng = np.random.default_rng(0)
    params = init_params(c, np.random.default_rng(0))
    model, opt = torch_setup(params, c, s)
    state = optim.adamw_state(params)
    torch.set_num_threads(threads)
    ours, ref = [], []
    with threadpool_limits(threads):
        for r in range(rounds + 1):  # round 0 warms both up and is not counted
            batches = [data[rng.integers(0, len(data), s.batch)] for _ in range(steps)]
            a, b = ours_steps(params, state, c, batches, s), torch_steps(model, opt, batches, s)
            if r:
                ours.append(steps / a)
                ref.append(steps / b)
    result = dict(
        model=f"GPT-2, n_layer {c.n_layer}, n_head {c.n_head}, d_model {c.d_model}, n_vocab {c.n_vocab}",
        batch=f"{s.batch} x {s.n_seq} tokens",
        threads=threads,
        ours_steps_s=float(np.median(ours)),
        torch_steps_s=float(np.median(ref)),
        shipped=shipped(),
    )
    result["ratio"] = result["ours_steps_s"] / result["torch_steps_s"]
    print(
        f"train: ours {result['ours_steps_s']:.1f} steps/s, torch eager {result['torch_steps_s']:.1f} steps/s "
        f"(x{result['ratio']:.2f}), {threads} thread(s)"
    )
    return result


def markdown(t, targets):  # the train section of the report -> list of lines; appends its target
    lines = ["## Training (issue 18)", "",
             f"{t['model']}, batch {t['batch']}, {t['threads']} thread(s), median of alternating rounds:", "",
             "| ours (numpy) | torch eager | ratio ours / torch |", "|---:|---:|---:|",
             f"| {t['ours_steps_s']:.1f} steps/s | {t['torch_steps_s']:.1f} steps/s | {t['ratio']:.2f}x |", ""]  # fmt: skip
    targets.append(("training steps/s, ours / torch eager", f"{t['ratio']:.2f}x", t["ratio"] >= TARGET))
    if sh := t.get("shipped"):
        lines.append(f"The shipped `tiny` took {sh.get('seconds', 0):.0f} s to train ({sh.get('steps')} steps, "
                     f"{sh.get('machine', 'this machine')}).")  # fmt: skip
    return lines + [""]


if __name__ == "__main__":
    main()

"""`python -m attention train --out DIR ...`: train the tiny GPT-2 and save it as a checkpoint folder.

python -m attention train --out attention/tiny --steps 8000 --seed 0   # reproduces the shipped `tiny`
"""

import sys
import time

from .loop import Settings

TINY = dict(
    steps=8000, seed=0, n_seq=32, batch=16, lr=1e-2, induction_share=0.5, fresh=True
)  # the shipped model's settings


def add_parser(commands):  # argparse subparsers -> the `train` parser
    d = Settings()
    p = commands.add_parser(
        "train",
        help="train the tiny GPT-2 decoder on lecture-world sentences (numpy) and save it as a checkpoint",
        description="Train a small GPT-2 decoder in numpy on generated lecture-world sentences; save config.json, "
        "model.safetensors and tokenizer.json to DIR. The defaults reproduce the shipped model `tiny`.",
    )
    p.add_argument("--out", required=True, metavar="DIR", help="folder to write the checkpoint to (created)")
    p.add_argument("--steps", type=int, default=TINY["steps"], help=f"training steps (default: {TINY['steps']})")
    p.add_argument("--seed", type=int, default=TINY["seed"], help="seed of the corpus, initialisation and batches")
    p.add_argument("--n-layer", type=int, default=d.n_layer, help=f"1 or 2 (default: {d.n_layer})")
    p.add_argument("--n-head", type=int, default=d.n_head, help=f"heads per layer (default: {d.n_head})")
    p.add_argument("--d-model", type=int, default=d.d_model, help=f"width (default: {d.d_model})")
    p.add_argument("--n-seq", type=int, default=TINY["n_seq"], help="tokens per sequence = the model's positions")
    p.add_argument("--batch", type=int, default=TINY["batch"], help="sequences per step")
    p.add_argument("--lr", type=float, default=TINY["lr"], help=f"peak learning rate (default: {TINY['lr']})")
    p.add_argument(
        "--induction-share",
        type=float,
        default=TINY["induction_share"],
        help=f"share of sequences holding a repeated random run (default: {TINY['induction_share']})",
    )
    p.add_argument(
        "--fixed-corpus",
        action="store_true",
        help=f"draw batches from a fixed corpus of {d.n_sequences} sequences instead of fresh ones every step (seeded "
        "by seed and step; the default): repeated runs seen again can be memorised instead of copied from context",
    )
    p.add_argument("--threads", type=int, default=d.threads, help=f"BLAS threads (default: {d.threads})")
    p.add_argument("--no-scale", action="store_true", help="do not divide QKᵀ by √d_head (transformers loads it; "
                   "this dashboard's loader refuses it)")  # fmt: skip
    return p


def bar(step, steps, loss, start, width=30):  # -> str: [#####.....] step/steps loss, elapsed
    done = int(width * step / steps)
    return f"\r[{'#' * done}{'.' * (width - done)}] {step}/{steps} loss {loss:.3f} {time.perf_counter() - start:.0f}s"


def command(args):  # -> exit status
    from .loop import train

    settings = Settings(
        steps=args.steps,
        seed=args.seed,
        scale=not args.no_scale,
        n_layer=args.n_layer,
        n_head=args.n_head,
        d_model=args.d_model,
        n_seq=args.n_seq,
        batch=args.batch,
        lr=args.lr,
        induction_share=args.induction_share,
        threads=args.threads,
        fresh=TINY["fresh"] and not args.fixed_corpus,
    ).check()
    start = time.perf_counter()

    def progress(step, steps, loss):
        if step % 10 == 0 or step == steps:
            print(bar(step, steps, loss, start), end="", file=sys.stderr, flush=True)

    result = train(settings, progress=progress, snapshot_every=max(1, settings.steps // 10))
    path = result.save(args.out)
    print(file=sys.stderr)
    print(
        f"wrote {path}: {result.settings.steps} steps in {result.seconds:.0f} s, final loss "
        f"{result.losses[-50:].mean():.3f} (unigram baseline {result.unigram_loss:.3f}), copy accuracy "
        f"{result.copy_accuracy[-1]:.0%}, best induction score {result.induction[-1].max():.2f}"
    )
    return 0

"""Benchmark: what /flow costs on all-MiniLM-L6-v2 at a few lengths, beside the forward pass it builds on.

    python -m bench.flow [--lengths 16 128 512] [--grid-up-to 128]

Prints a markdown table (ms): the forward pass, value norms of one layer, rollout, switching one head off in the
first and in the last layer, and the whole ablation grid (n_layer · n_head reruns) up to --grid-up-to tokens.
The grid's cost decides pages/flow.py's AUTO_GRID. A benchmark, not a test: timings depend on the machine's load.
"""

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from attention import flow, flow_models, models  # noqa: E402
from attention.models import run_checkpoint  # noqa: E402


def ms(fn):  # -> milliseconds of one call
    start = time.perf_counter()
    fn()
    return 1000 * (time.perf_counter() - start)


def row(ckpt, n_seq, grid_up_to):  # -> dict of ms
    text = " ".join(f"token{i % 37} and more" for i in range(n_seq))
    run = run_checkpoint(ckpt, text, max_tokens=n_seq)
    parts = flow_models.model_parts(run, ckpt)
    ablation = flow_models.Ablation(run, 0, ckpt, text)
    out = {"n_seq": run.n_seq, "forward": ms(lambda: run_checkpoint(ckpt, text, max_tokens=n_seq))}
    out["value norms, 1 layer"] = ms(lambda: flow_models.layer_flow(run, parts, 0))
    out["rollout"] = ms(lambda: flow.rollout(run.weights))
    out["1 head off, layer 0"] = ms(lambda: ablation.effect(0, 0))
    out[f"1 head off, layer {run.n_layer - 1}"] = ms(lambda: ablation.effect(run.n_layer - 1, 0))
    out["grid"] = ms(ablation.grid) if run.n_seq <= grid_up_to else None
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[16, 128, 512])
    parser.add_argument("--grid-up-to", type=int, default=128, help="time the whole grid only up to this n_seq")
    args = parser.parse_args(argv)
    ckpt = models.load("minilm")
    rows = [row(ckpt, n, args.grid_up_to) for n in args.lengths]
    keys = list(rows[0])
    print("| " + " | ".join(keys) + " |\n|" + "---|" * len(keys))
    for r in rows:
        print("| " + " | ".join("—" if r[k] is None else f"{r[k]:.0f}" for k in keys) + " |")


if __name__ == "__main__":
    main()

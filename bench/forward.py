"""Benchmark: our numpy forward pass against transformers (torch) on all-MiniLM-L6-v2, same machine, same run.

    python -m bench.forward            (or: python bench/forward.py [--repeats 20])

Prints a markdown table (median and best ms over interleaved repeats) and writes bench/reports/forward.json
(forward-N-threads.json with --threads N).
Torch runs twice: "eager" returns attentions and hidden states, as our pass does (the like-for-like
comparison); "sdpa" is transformers' fastest default, which returns no attention weights.
A benchmark, not a test: timings depend on the machine and on what else it is running.
"""

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from attention.models import blocks as transformer  # noqa: E402
from attention.models import loading as checkpoint  # noqa: E402
from attention.models.passes import forward  # noqa: E402
from attention.models.runner import encode  # noqa: E402

LENGTHS = (9, 128, 512)
SETTLE = 0.2  # seconds of rest before each timed call: idle OpenBLAS and OpenMP threads spin for ~0.1-0.2 s
# and would slow the other side. After the rest, one untimed call of the side about to be timed wakes the cores:
# a virtual CPU that has idled for 0.2 s runs the next call 10-100 % slower, at random, for both sides alike.
TEXT = "I ate an apple and a banana"  # 9 tokens with [CLS] and [SEP]
LONG = "The animal didn't cross the street because it was too tired, and the bank by the river was steep. "


def ids_of_length(ckpt, n):  # -> [n] token ids of real text, exactly n long
    ids = encode(ckpt, TEXT if n <= 9 else LONG * 60, max_tokens=n)[0]
    assert len(ids) == n, f"could not make {n} tokens"
    return ids


def median_ms(samples):
    return float(np.median(samples) * 1e3)


def blas_threads():  # -> int or None: numpy's own BLAS thread count (scipy may load a second OpenBLAS)
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    return next((p["num_threads"] for p in threadpool_info() if "numpy" in p.get("filepath", "")), None)


def main(repeats=None, threads=None):
    import torch
    import transformers

    if threads:  # the same count for both sides: torch's intra-op pool and numpy's BLAS
        torch.set_num_threads(threads)
        transformer.set_workers(threads)
        try:
            from threadpoolctl import threadpool_limits

            threadpool_limits(threads, user_api="blas")
        except ImportError:
            pass
    load_before = os.getloadavg()[0]

    ckpt = checkpoint.load("minilm")
    models = {
        impl: transformers.BertModel.from_pretrained(str(ckpt.path), attn_implementation=impl).eval()
        for impl in ("eager", "sdpa")
    }
    rows = []
    for n in LENGTHS:
        ids = ids_of_length(ckpt, n)
        tensor = torch.tensor(ids[None])
        runs = {
            "numpy": lambda ids=ids: forward(ckpt, ids),
            "eager": lambda t=tensor: models["eager"](t, output_attentions=True, output_hidden_states=True),
            "sdpa": lambda t=tensor: models["sdpa"](t),
        }
        reps = repeats or {9: 40, 128: 30, 512: 15}[n]
        times = {k: [] for k in runs}
        with torch.inference_mode():
            for f in runs.values():  # warm up: caches, allocator, thread pools
                f(), f()
            for _ in range(reps):  # interleaved, so background load hits every column alike
                for k, f in runs.items():
                    time.sleep(SETTLE)  # the previous call's idle BLAS / OpenMP threads stop spinning first
                    f()  # untimed: wakes the idle cores and this side's own thread pool (see SETTLE)
                    start = time.perf_counter()
                    f()
                    times[k].append(time.perf_counter() - start)
        ms = {k: median_ms(v) for k, v in times.items()}
        best = {k: min(v) * 1e3 for k, v in times.items()}
        rows.append(
            dict(
                n_seq=n,
                repeats=reps,
                numpy_ms=round(ms["numpy"], 2),
                torch_eager_ms=round(ms["eager"], 2),
                torch_sdpa_ms=round(ms["sdpa"], 2),
                ratio_vs_eager=round(ms["numpy"] / ms["eager"], 2),
                ratio_vs_sdpa=round(ms["numpy"] / ms["sdpa"], 2),
                best_numpy_ms=round(best["numpy"], 2),
                best_torch_eager_ms=round(best["eager"], 2),
                best_torch_sdpa_ms=round(best["sdpa"], 2),
            )
        )
    report = dict(
        model=checkpoint.HF_IDS["minilm"],
        torch=torch.__version__,
        transformers=transformers.__version__,
        numpy=np.__version__,
        torch_threads=torch.get_num_threads(),
        blas_threads=blas_threads(),
        cpu_count=os.cpu_count(),
        numpy_workers=transformer.WORKERS,
        load_average=[round(load_before, 2), round(os.getloadavg()[0], 2)],  # before and after: other work on the box
        machine=platform.processor() or platform.machine(),
        target_ratio=1.3,
        rows=rows,
    )
    print_table(report)
    out = ROOT / "bench" / "reports" / ("forward.json" if not threads else f"forward-{threads}-threads.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {out.relative_to(ROOT)}")
    return report


def print_table(report):
    print(
        f"all-MiniLM-L6-v2 forward pass, median ms (best in brackets); torch {report['torch']} with "
        f"{report['torch_threads']} threads, numpy BLAS {report['blas_threads']} threads and {report['numpy_workers']} "
        f"workers, {report['cpu_count']} CPUs, load average {report['load_average']}\n"
    )
    print("| n_seq | numpy (ours) | torch eager + attentions | ratio | torch sdpa, no attentions | ratio |")
    print("|---:|---:|---:|---:|---:|---:|")
    for r in report["rows"]:
        print(
            f"| {r['n_seq']} | {r['numpy_ms']:.1f} ({r['best_numpy_ms']:.1f}) "
            f"| {r['torch_eager_ms']:.1f} ({r['best_torch_eager_ms']:.1f}) | {r['ratio_vs_eager']:.2f}x "
            f"| {r['torch_sdpa_ms']:.1f} ({r['best_torch_sdpa_ms']:.1f}) | {r['ratio_vs_sdpa']:.2f}x |"
        )
    print(f"\ntarget: ratio <= {report['target_ratio']}x (ratios of medians)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=None, help="timed runs per length (default 40/30/15)")
    parser.add_argument("--threads", type=int, default=None, help="threads for torch and BLAS alike (default: torch's)")
    args = parser.parse_args()
    main(args.repeats, args.threads)

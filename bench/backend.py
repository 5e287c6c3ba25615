"""Backend benchmark: attention alone and the full MiniLM forward pass against torch, plus achieved GFLOPS.

    python -m bench.backend [--quick]

Every comparison is timed in the same run, interleaved, and reported as a ratio (ours / torch), so background
load hits both sides alike. GFLOPS of the forward pass are compared with a large float32 matmul (numpy's BLAS)
on the same machine: the fraction says how close the pass gets to what this CPU can do.
"""

import argparse
import json
import time

import numpy as np

from attention.core import attention, attention_weights

N_HEAD, D_HEAD = 12, 32  # MiniLM's attention shape: d_model 384
MATMUL_N = 2048
SETTLE = 0.2  # seconds of rest before each timed call: OpenBLAS's and OpenMP's idle threads spin for ~0.1-0.2 s
# after a call, and would otherwise slow whichever function runs next. After the rest, one untimed call of the function
# about to be timed wakes the cores: a virtual CPU that has idled for 0.2 s runs the next call 10-100 % slower, at random


def interleaved(funcs, repeats, warmup=2, settle=SETTLE):  # {name: () -> any}, int -> {name: median seconds}
    """Median time of each function, run in turns so that load on the machine hits every one alike."""
    for f in funcs.values():
        for _ in range(warmup):
            f()
    times = {k: [] for k in funcs}
    for _ in range(repeats):
        for k, f in funcs.items():
            time.sleep(settle)
            f()  # untimed: wakes the idle cores and this function's own thread pool
            start = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - start)
    return {k: float(np.median(v)) for k, v in times.items()}


def qkv(n_seq, seed=0):  # -> 3 x [n_head, n_seq, d_head] float32
    rng = np.random.default_rng(seed)
    return tuple(rng.standard_normal((N_HEAD, n_seq, D_HEAD), dtype=np.float32) for _ in range(3))


def attention_times(n_seq, repeats):  # -> {name: median seconds} for one length
    """Our attention (every intermediate, and the lean weights-only path) against torch's, on the same inputs."""
    import torch

    q, k, v = qkv(n_seq)
    tq, tk, tv = (torch.from_numpy(a) for a in (q, k, v))

    def torch_weights():  # like-for-like: torch also returns the weights
        w = torch.softmax(tq @ tk.transpose(-1, -2) / D_HEAD**0.5, dim=-1)
        return w, w @ tv

    with torch.inference_mode():
        return interleaved(
            {
                "ours_full": lambda: attention(q, k, v),
                "ours_lean": lambda: attention_weights(q, k) @ v,
                "torch_eager": torch_weights,
                "torch_sdpa": lambda: torch.nn.functional.scaled_dot_product_attention(tq, tk, tv),
            },
            repeats,
        )


def attention_rows(lengths=(128, 512), repeats=20):  # -> list of dicts, one per n_seq
    rows = []
    for n in lengths:
        t = attention_times(n, repeats)
        rows.append(
            dict(
                n_seq=n,
                ours_full_ms=round(t["ours_full"] * 1e3, 3),
                ours_lean_ms=round(t["ours_lean"] * 1e3, 3),
                torch_eager_ms=round(t["torch_eager"] * 1e3, 3),
                torch_sdpa_ms=round(t["torch_sdpa"] * 1e3, 3),
                ratio_full_vs_eager=round(t["ours_full"] / t["torch_eager"], 2),
                ratio_lean_vs_eager=round(t["ours_lean"] / t["torch_eager"], 2),
                ratio_lean_vs_sdpa=round(t["ours_lean"] / t["torch_sdpa"], 2),
            )
        )
    return rows


def forward_flops(config, n_seq):  # Config, int -> float: multiply-adds x 2 of one forward pass
    """Matmul FLOPs of an encoder pass: Q, K, V and W_o projections, QKᵀ, weights·V, and the two FFN matrices."""
    d, f = config.d_model, config.d_ff
    per_layer = 2 * n_seq * d * (4 * d + 2 * f) + 2 * 2 * n_seq * n_seq * d
    return float(config.n_layer * per_layer)


def matmul_gflops(n=MATMUL_N, repeats=5):  # -> float: numpy float32 [n, n] @ [n, n] throughput
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, n, n), dtype=np.float32)
    seconds = interleaved({"mm": lambda: a @ b}, repeats, warmup=1, settle=0)["mm"]
    return 2 * n**3 / seconds / 1e9


def forward_report(repeats=None):  # -> dict: bench.forward's table plus GFLOPS against the matmul
    """The MiniLM forward pass against transformers (bench/forward.py), with achieved GFLOPS at each length."""
    from attention.models import loading as checkpoint
    from bench import forward

    report = forward.main(repeats)
    config = checkpoint.load("minilm").config
    peak = matmul_gflops(repeats=3 if repeats and repeats < 5 else 5)
    for row in report["rows"]:
        gflops = forward_flops(config, row["n_seq"]) / (row["numpy_ms"] / 1e3) / 1e9
        row["gflops"] = round(gflops, 2)
        row["fraction_of_matmul"] = round(gflops / peak, 3)
    report["matmul_gflops"] = round(peak, 2)
    report["matmul_n"] = MATMUL_N
    return report


def main(quick=False, repeats=None):  # -> dict: the backend section of the report
    """repeats: timed runs per length for every comparison (default 30 for attention, bench.forward's own)."""
    from attention.models import loading as checkpoint

    result = dict(attention=attention_rows(repeats=repeats or (5 if quick else 20)))
    if checkpoint.is_available("minilm"):
        result["forward"] = forward_report(repeats=repeats or (2 if quick else None))
    else:
        result["forward"] = None
        result["forward_missing"] = checkpoint.how_to_get("minilm")
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few repeats: checks that it runs, not a measurement")
    print(json.dumps(main(parser.parse_args().quick), indent=2))

"""The benchmark suite in one command: backend, llama (SmolLM2 shapes), generate (KV cache), browser (dashboard vs
the floor app), the anatomy of a first chart, long inputs, a lecture hall, training speed (ours vs torch).

    python -m bench.run [--quick] [--only backend,llama,generate,browser,anatomy,long,hall,train] [--crowd 300] [--repeats N]
    python -m bench.run --only concurrency [--sessions 30]     # the retired 30-browser crowd

Writes bench/reports/report.md (every number against its target) and bench/reports/report.json.
Timings depend on the machine and on what else runs on it; the report records the load average, and every
comparison (ours / torch, dashboard / floor) is measured within the same run.
"""

import argparse
import json
import os
import platform
import time
from pathlib import Path

from bench import report

ROOT = Path(__file__).resolve().parents[1]
REPORTS = ROOT / "bench" / "reports"
SECTIONS = ("backend", "llama", "generate", "browser", "anatomy", "long", "concurrency", "hall", "train")
DEFAULT = tuple(s for s in SECTIONS if s != "concurrency")  # the 30-browser crowd is retired


def cpu_model():  # -> str: the CPU's name and widest SIMD (runs on different machines differ by more than noise)
    try:
        info = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor() or platform.machine()
    field = lambda key: next((ln.split(":", 1)[1].strip() for ln in info if ln.startswith(key)), "")  # noqa: E731
    flags = field("flags").split()
    simd = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
    return ", ".join(x for x in (field("model name"), platform.machine(), simd) if x)


def run_section(name, quick, sessions, repeats=None, hall_crowd=300):  # -> dict | list: one section's results
    if name == "backend":
        from bench import backend

        return backend.main(quick, repeats=repeats)
    if name == "llama":
        from bench import llama

        return llama.main(quick, repeats=repeats)
    if name == "generate":
        from bench import generate

        return generate.main(quick, repeats=repeats)
    if name == "browser":
        from bench import browser

        return browser.main(quick, repeats=repeats)
    if name == "anatomy":
        from bench import anatomy

        return anatomy.main(repeats or 5, quick)
    if name == "train":
        from bench import train

        return train.main(quick)
    if name == "long":  # issue 22's target; `python -m bench.long_inputs --sweep` for every model and length
        from bench import long_inputs

        return long_inputs.target(quick, repeats=repeats or 3)
    if name == "hall":
        from bench import hall

        return hall.main(quick, crowd_n=hall_crowd)
    from bench import concurrency

    return concurrency.main(sessions=3 if quick else sessions, n_browsers=1 if quick else 3)


def main(quick=False, only=DEFAULT, sessions=30, out=REPORTS, repeats=None, crowd=300):  # -> dict: the whole report
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    result = dict(
        started=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        quick=quick,
        machine=dict(
            cpus=os.cpu_count(),
            processor=cpu_model(),
            python=platform.python_version(),
            load_before=[round(x, 1) for x in os.getloadavg()],
        ),  # fmt: skip
    )
    for name in only:
        start = time.perf_counter()
        print(f"== {name}", flush=True)
        result[name] = run_section(name, quick, sessions, repeats, crowd)
        result.setdefault("seconds", {})[name] = round(time.perf_counter() - start, 1)
        (out / "report.json").write_text(json.dumps(result, indent=2, default=str) + "\n")  # partial results survive
    result["machine"]["load_after"] = [round(x, 1) for x in os.getloadavg()]
    (out / "report.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    (out / "report.md").write_text(report.markdown(result))
    print(report.markdown(result))
    print(f"wrote {out / 'report.md'} and {out / 'report.json'}")
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny settings: checks the suite runs, measures little")
    parser.add_argument("--only", default=",".join(DEFAULT), help=f"comma-separated subset of {','.join(SECTIONS)}")
    parser.add_argument("--sessions", type=int, default=30, help="concurrent browser sessions (default 30)")
    parser.add_argument("--out", default=str(REPORTS), help="folder for report.md and report.json")
    parser.add_argument("--crowd", type=int, default=300, help="viewers in the hall's load run (default 300)")
    parser.add_argument("--repeats", type=int, default=None, help="page loads / backend runs per case (a busy machine)")
    args = parser.parse_args()
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    if bad := set(only) - set(SECTIONS):
        parser.error(f"unknown section(s) {sorted(bad)}; choose from {', '.join(SECTIONS)}")
    main(args.quick, only, args.sessions, args.out, args.repeats, args.crowd)

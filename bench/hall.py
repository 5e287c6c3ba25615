"""A lecture hall on this machine: server CPU per new viewer of a shared link, and 300 viewers within a minute.

    python -m bench.hall [--quick] [--rounds 4] [--viewers 5] [--crowd 300] [--within 60]

per_viewer: the dashboard behind nginx with 2 replicas (deploy/start.sh) and the floor app under plain
`streamlit run`, both running; each round runs `viewers` viewers one after another on every case (the floor
first), interleaved, and reads utime + stime from /proc of every process of ours (nginx master and workers and
the replicas; the floor's one process) before and after. Caches are warm (a Chromium visit records each case's
requests first, and one viewer more warms the session path).
crowd: `crowd` viewers of / arrive evenly within `within` seconds through nginx, keep their sessions open until
the last one has its charts, then close. The load generator (this process) runs on the same CPUs; its CPU is
counted and reported.
"""

import argparse
import asyncio
import contextlib
import json
import os
import resource
import signal
import subprocess
import time
from pathlib import Path
from statistics import median

from bench import viewer
from bench.browser import FLOOR, ROOT, free_port, percentiles, rss_mb, serve
from bench.concurrency import machine_busy_s

HZ = os.sysconf("SC_CLK_TCK")
CPU_S_PER_MINUTE = 120.0  # 2 cores x 60 s
SETTLE_S = 0.5  # after a batch: the last session's clean-up is counted too


def cpu_s(pids):  # -> float: utime + stime of the processes still alive, from /proc
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / HZ


def children(pid):  # -> [pid]: direct children, from /proc/*/stat
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
    return found


@contextlib.contextmanager
def cluster(n_replica=2, timeout=240):  # -> (url, {name: pid}, [replica url]): deploy/start.sh N, own process group
    port = free_port()
    log = ROOT / "bench" / "reports" / "hall-cluster.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        proc = subprocess.Popen(["bash", "deploy/start.sh", str(n_replica), str(port)], cwd=ROOT, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + timeout
        while not any(line.startswith("ready ") for line in log.read_text().splitlines()):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"deploy/start.sh did not start; see {log}")
            time.sleep(0.3)
        pids, ports = {}, []
        for line in log.read_text().splitlines():
            if line.startswith(("replica ", "nginx pid=")):
                name = line.split(" pid=")[0]
                pids[name] = int(line.split(" pid=")[1].split()[0])
                ports += [int(line.split(" port=")[1].split()[0])] if name.startswith("replica") else []
        for i, worker in enumerate(children(pids["nginx"])):
            pids[f"nginx worker {i + 1}"] = worker
        yield f"http://127.0.0.1:{port}", pids, [f"http://127.0.0.1:{p}" for p in ports]
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # its trap stops the replicas and nginx
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=30)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # whatever is left of the group it started
        proc.wait()


def cases(dash, floor, minilm):  # -> {name: url path}; "floor" first
    out = {"floor": ("floor", viewer.url_path("/"))}
    for path in ("/", "/scores", "/heads", "/pull"):
        out[path] = ("dashboard", viewer.url_path(path))
    if minilm:
        out["/ MiniLM"] = ("dashboard", viewer.url_path("/", model="minilm"))
    return out


async def batch(base, path, requests, n_charts, pids, n):  # -> (CPU s per viewer, [viewer results])
    c0 = cpu_s(pids)
    results = [await viewer.view(base, path, requests, n_charts) for _ in range(n)]
    await asyncio.sleep(SETTLE_S)
    return (cpu_s(pids) - c0) / n, results


async def per_viewer(servers, todo, recorded, n_charts, rounds, viewers):  # -> {case: row}
    """servers: {"floor"|"dashboard": (base url, pids)}; todo: {case: (server, path)}."""
    samples = {name: [] for name in todo}
    walls, errors, sent = {name: [] for name in todo}, {name: [] for name in todo}, {name: [] for name in todo}
    for _ in range(rounds):
        for name, (server, path) in todo.items():
            base, pids = servers[server]
            cpu, results = await batch(base, path, recorded[name], n_charts[name], pids, viewers)
            samples[name].append(cpu)
            walls[name] += [r["all"] for r in results if r["all"] is not None]
            sent[name] += [r["bytes"] for r in results]
            errors[name] += [e for r in results for e in r["errors"]]
    floor = median(samples["floor"])
    rows = {}
    for name, cpu in samples.items():
        ms = 1e3 * median(cpu)
        rows[name] = dict(path=todo[name][1], ms_per_viewer=round(ms, 1), batches_ms=[round(1e3 * c, 1) for c in cpu],
                          ratio=round(median(cpu) / floor, 2), viewers_per_minute=int(CPU_S_PER_MINUTE / (ms / 1e3)),
                          charts=n_charts[name], requests=len(recorded[name]), wall=percentiles(walls[name]),
                          http_mb=round(median(sent[name]) / 2**20, 2),
                          n_errors=len(errors[name]), errors=sorted(set(errors[name]))[:5])  # fmt: skip
    return rows


async def crowd(base, path, requests, n_charts, pids, n=300, within_s=60.0):  # -> dict: the load run
    hold, loaded, n_done = asyncio.Event(), asyncio.Event(), [0]
    rss_before = {name: round(rss_mb(pid), 1) for name, pid in pids.items()}
    peak = dict(rss_before)

    def done():
        n_done[0] += 1
        if n_done[0] == n:
            loaded.set()

    async def arrive(i):
        await asyncio.sleep(i * within_s / n)
        return await viewer.view(base, path, requests, n_charts, hold=hold, done=done)

    c0, busy0, own0, t0 = cpu_s(pids.values()), machine_busy_s(), own_cpu_s(), time.perf_counter()
    tasks = [asyncio.create_task(arrive(i)) for i in range(n)]
    while not loaded.is_set():  # every viewer has its charts or failed; sample memory meanwhile
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(loaded.wait(), 1.0)
        for name, pid in pids.items():
            with contextlib.suppress(OSError, RuntimeError):
                peak[name] = max(peak[name], round(rss_mb(pid), 1))
    wall, server, own, busy = time.perf_counter() - t0, cpu_s(pids.values()) - c0, own_cpu_s() - own0, machine_busy_s()
    rss_open = {name: round(rss_mb(pid), 1) for name, pid in pids.items()}
    hold.set()
    results = await asyncio.gather(*tasks)
    await asyncio.sleep(2)
    errors = [e for r in results for e in r["errors"]]
    return dict(viewers=n, within_s=within_s, path=path, charts=n_charts, wall_s=round(wall, 1),
                all=percentiles([r["all"] for r in results if r["all"] is not None]), n_errors=len(errors),
                errors=sorted(set(errors))[:10], server_cpu_s=round(server, 1),
                server_ms_per_viewer=round(1e3 * server / n, 1), generator_cpu_s=round(own, 1),
                machine_cpu_s=round(busy - busy0, 1) if busy is not None else None, n_cpus=len(os.sched_getaffinity(0)),
                rss_before_mb=rss_before, rss_peak_mb=peak, rss_open_mb=rss_open,
                rss_after_mb={name: round(rss_mb(pid), 1) for name, pid in pids.items()})  # fmt: skip


def own_cpu_s():  # -> float: this process's user + system CPU (the load generator, every thread)
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main(quick=False, rounds=4, viewers=5, crowd_n=300, within_s=60.0):  # -> dict: the hall section of the report
    from attention import checkpoint

    if quick:
        rounds, viewers, crowd_n, within_s = 1, 2, 3, 1.0
    minilm = not quick and checkpoint.is_available("minilm")
    with (
        cluster(2) as (dash_url, dash_pids, replicas),
        serve(FLOOR, log_name="server-hall-floor.log") as (floor_url, floor),
    ):
        servers = {"dashboard": (dash_url, list(dash_pids.values())), "floor": (floor_url, [floor.pid])}
        todo = cases(dash_url, floor_url, minilm)
        if quick:
            todo = {k: todo[k] for k in ("floor", "/")}
        recorded = viewer.record_all({name: servers[s][0] + p for name, (s, p) in todo.items()})

        async def run():
            n_charts = {}
            for name, (s, p) in todo.items():  # warm every replica's caches; the chart count is the one to wait for
                for base in replicas if s == "dashboard" else [servers[s][0]]:
                    path, _, query = p.partition("?")
                    n_charts[name] = (await viewer.session(base, path, query))["charts"]
            rows = await per_viewer(servers, todo, recorded, n_charts, rounds, viewers)
            load = await crowd(dash_url, "/", recorded["/"], n_charts["/"], dash_pids, crowd_n, within_s)
            return rows, load

        rows, load = asyncio.run(run())
    static = [p for p, _ in recorded["/"] if "/static/" in p]
    return dict(rounds=rounds, viewers=viewers, pages=rows, crowd=load, static_requests=len(static),
                load_during=[round(x, 1) for x in os.getloadavg()])  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 viewers, 1 round, a crowd of 3: a smoke run")
    parser.add_argument("--rounds", type=int, default=4, help="interleaved rounds (default 4)")
    parser.add_argument("--viewers", type=int, default=5, help="viewers per case and round (default 5)")
    parser.add_argument("--crowd", type=int, default=300, help="viewers in the load run (default 300)")
    parser.add_argument("--within", type=float, default=60.0, help="seconds over which they arrive (default 60)")
    a = parser.parse_args()
    print(json.dumps(main(a.quick, a.rounds, a.viewers, a.crowd, a.within), indent=2))

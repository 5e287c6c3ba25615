"""The benchmark report as markdown: every number next to its target (issue 5), misses included."""

from bench.browser import FLOOR_PAGE, ratio

FIRST_CHART = 1.3  # x the floor's first chart
CHANGE_LECTURE, CHANGE_MINILM = 1.5, 2.0  # x the floor's control change
LONG_RATIO = 1.3  # a 512-token MiniLM page's every heatmap, x the floor's one 512 x 512 heatmap
PER_VIEWER, HALL_P95_S = 1.0, 10.0  # server CPU per new viewer x the floor's; a 300-viewer crowd's p95
CROWD_P95_S, CROWD_MB = 10.0, 30.0
FORWARD_RATIO, MATMUL_FRACTION = 1.3, 0.40


def verdict(ok):  # bool | None -> str
    return "n/a" if ok is None else ("**met**" if ok else "**missed**")


def at_most(value, target):  # -> bool | None
    return None if value is None else value <= target


def ms(value):
    return "–" if value is None else f"{value:,.0f} ms"


def markdown(r):  # the dict bench.run.main builds -> str
    m = r["machine"]
    lines = [
        "# Benchmark report" + (" (quick run: a smoke test, not a measurement)" if r.get("quick") else ""),
        "",
        f"Run {r['started']} on {m['cpus']} CPUs ({m['processor']}), Python {m['python']}. "
        f"Load average (1/5/15 min) before: {m['load_before']}, after: {m.get('load_after')}.",
        "Absolute times depend on the load; the ratios compare two things measured in the same run.",
        "",
    ]
    targets = []
    if "backend" in r:
        lines += backend_md(r["backend"], targets)
    if r.get("llama"):
        from bench import llama

        lines += llama.markdown(r["llama"], targets)
    if r.get("generate"):
        from bench import generate

        lines += generate.markdown(r["generate"], targets)
    if "browser" in r:
        lines += browser_md(r["browser"], targets)
    if r.get("anatomy"):
        from bench import anatomy

        lines += anatomy.markdown(r["anatomy"])
    if "long" in r:
        lines += long_md(r["long"], targets)
    if "concurrency" in r:
        lines += crowd_md(r["concurrency"], targets)
    if "hall" in r:
        lines += hall_md(r["hall"], targets)
    if "train" in r:
        from bench import train

        lines += train.markdown(r["train"], targets)
    head = ["## Targets", "", "| target | measured | verdict |", "|---|---|---|"]
    head += [f"| {t} | {v} | {verdict(ok)} |" for t, v, ok in targets]
    return "\n".join(lines[:5] + head + [""] + lines[5:]) + "\n"


def backend_md(b, targets):
    lines = ["## Backend", "", "Attention alone, n_head 12, d_head 32 (median ms; ratio = ours / torch):", ""]
    lines += ["| n_seq | ours, every intermediate | ours, weights only | torch eager (weights) | torch SDPA | "
              "full / eager | lean / eager | lean / SDPA |", "|---:|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for a in b["attention"]:
        lines.append(f"| {a['n_seq']} | {a['ours_full_ms']} | {a['ours_lean_ms']} | {a['torch_eager_ms']} | "
                     f"{a['torch_sdpa_ms']} | {a['ratio_full_vs_eager']}x | {a['ratio_lean_vs_eager']}x | "
                     f"{a['ratio_lean_vs_sdpa']}x |")  # fmt: skip
    f = b.get("forward")
    if not f:
        return lines + ["", f"Forward pass: not measured ({b.get('forward_missing')}).", ""]
    lines += ["", f"all-MiniLM-L6-v2 forward pass (median ms; torch {f['torch']}, {f['torch_threads']} threads; "
              f"a {f['matmul_n']}² float32 matmul reaches {f['matmul_gflops']} GFLOPS here):", "",
              "| n_seq | ours (numpy) | torch eager + attentions | ours / eager | torch SDPA | ours / SDPA | GFLOPS | "
              "of matmul |", "|---:|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for row in f["rows"]:
        lines.append(f"| {row['n_seq']} | {row['numpy_ms']} | {row['torch_eager_ms']} | {row['ratio_vs_eager']}x | "
                     f"{row['torch_sdpa_ms']} | {row['ratio_vs_sdpa']}x | {row['gflops']} | "
                     f"{row['fraction_of_matmul']:.0%} |")  # fmt: skip
        if row["n_seq"] in (128, 512):
            targets.append((f"forward pass ≤ {FORWARD_RATIO}x torch (eager, with attentions) at {row['n_seq']}",
                            f"{row['ratio_vs_eager']}x (SDPA without attentions: {row['ratio_vs_sdpa']}x)",
                            at_most(row["ratio_vs_eager"], FORWARD_RATIO)))  # fmt: skip
        if row["n_seq"] == 512:
            targets.append((f"forward pass ≥ {MATMUL_FRACTION:.0%} of matmul GFLOPS at 512",
                            f"{row['fraction_of_matmul']:.0%} ({row['gflops']} of {f['matmul_gflops']})",
                            row["fraction_of_matmul"] >= MATMUL_FRACTION))  # fmt: skip
    return lines + [""]


def browser_md(b, targets):
    floors = [("floor app at /", b["floor_load"])]
    lines = ["## Browser: dashboard against the floor app", "",
             "Fresh browser context per visit (a new session, nothing cached in the browser); the server's caches "
             "are warm (one visit first, reported as cold). Times from navigation; ratio = dashboard p50 / floor p50."]  # fmt: skip
    if "floor_page_load" in b:  # reports written before the floor was also visited at a page's URL lack it
        floors.append((f"floor app at /{FLOOR_PAGE}", b["floor_page_load"]))
        lines += ["", "The floor app is visited twice: at its root, and at a page's URL. Streamlit's frontend first "
                  "looks for the server under a page's path, fails, and retries at the root after a back-off, which "
                  "costs any multipage app's pages but the first about 0.1 s. So the overview (/) is compared with "
                  "the floor at /, every other page with the floor at a page's URL (first chart with first chart, "
                  "every chart with every chart); the last column compares every page's first chart with the floor's "
                  "at /."]  # fmt: skip
    lines += ["", "| page | charts | first chart p50 | p95 | every chart p50 | cold (every chart) | first / floor | "
             "every / floor | first / floor at / |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for name, fl in floors:
        lines.append(f"| {name} | {fl['n_charts']} | {ms(fl['first']['p50'])} | {ms(fl['first']['p95'])} | "
                     f"{ms(fl['all']['p50'])} | {ms(fl['cold_all_ms'])} | 1x | 1x | "
                     f"{ratio(fl['first']['p50'], b['floor_load']['first']['p50'])}x |")  # fmt: skip
    for name, p in b["pages"].items():
        lines.append(f"| {name} | {p['n_charts']} | {ms(p['first']['p50'])} | {ms(p['first']['p95'])} | "
                     f"{ms(p['all']['p50'])} | {ms(p['cold_all_ms'])} | {p['first_ratio']}x | {p['all_ratio']}x | "
                     f"{p.get('first_ratio_root', p['first_ratio'])}x |")  # fmt: skip
        at_page = " (the floor at a page's URL)" if "floor_page_load" in b and name != "overview" else ""
        targets.append((f"{name}: first chart ≤ {FIRST_CHART}x the floor's{at_page}", f"{p['first_ratio']}x",
                        at_most(p["first_ratio"], FIRST_CHART)))  # fmt: skip
    if b.get("deployed"):
        lines += ["", "The same pages as deployed for a lecture hall (deploy/start.sh: nginx serves Streamlit's static "
                  "files from disk, gzipped, and routes each session to one of 2 replicas), visited in the same "
                  "rounds against the same floor (plain `streamlit run`).", "",
                  "| page, as deployed | charts | first chart p50 | p95 | every chart p50 | first / floor | "
                  "every / floor |", "|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
        for name, p in b["deployed"].items():
            lines.append(f"| {name} | {p['n_charts']} | {ms(p['first']['p50'])} | {ms(p['first']['p95'])} | "
                         f"{ms(p['all']['p50'])} | {p['first_ratio']}x | {p['all_ratio']}x |")  # fmt: skip
            targets.append((f"{name}, as deployed (nginx): first chart ≤ {FIRST_CHART}x the floor's",
                            f"{p['first_ratio']}x", at_most(p["first_ratio"], FIRST_CHART)))  # fmt: skip
    lines += ["", "Control change: one slider step (Temperature) until the chart's z values differ in the browser.",
              "", "| app | changes | p50 | p95 | ratio (p50) |", "|---|---:|---:|---:|---:|"]  # fmt: skip
    rows = [("floor app, 9 x 9", b["floor_change"]), ("dashboard, lecture model (/scores)", b["change_lecture"])]
    if "change_minilm_128" in b:
        rows += [("floor app, 128 x 128", b["floor_change_128"]), ("dashboard, MiniLM 128 tokens (/scores)",
                                                                   b["change_minilm_128"])]  # fmt: skip
    for name, c in rows:
        lines.append(f"| {name} | {c['n']} (+{c['failures']} failed) | {ms(c['p50'])} | {ms(c['p95'])} | "
                     f"{c.get('ratio', 1)} |")  # fmt: skip
    c = b["change_lecture"]
    targets.append((f"control change ≤ {CHANGE_LECTURE}x floor (lecture)", f"{c['ratio']}x",
                    at_most(c["ratio"], CHANGE_LECTURE)))  # fmt: skip
    if "change_minilm_128" in b:
        c = b["change_minilm_128"]
        targets.append((f"control change ≤ {CHANGE_MINILM}x floor (MiniLM, 128 tokens)", f"{c['ratio']}x",
                        at_most(c["ratio"], CHANGE_MINILM)))  # fmt: skip
    return lines + [""]


def long_target_md(t, targets):  # the dict long_inputs.target returns -> lines; adds the targets
    lines = ["## Long inputs: 512 MiniLM tokens against the floor's one 512 x 512 heatmap", "",
             f"Every page with {t['n_seq']} MiniLM tokens (and each of /steps' other tabs, `steps?part=...`, as its "
             f"link opens it), and the floor app's one {t['n_seq']} x {t['n_seq']} "
             f"heatmap at / and at a page's URL, each visited once cold, then {t['repeats']} rounds in turn "
             "(fresh browser context per visit, the run cached on the server). Ratio: every chart, p50 of the warm "
             "visits, against the floor's at the same kind of URL. Rows \"as deployed (nginx)\": the same pages "
             "through deploy/start.sh (nginx serving the static files, 2 replicas), in the same rounds; each replica "
             "visited every page once before, untimed.", "",
             "| page | charts | first chart p50 | every chart p50 | p95 | cold (every chart) | / floor |",
             "|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    rows = {"floor app at /": t["floor"], f"floor app at /{FLOOR_PAGE}": t["floor_page"]} | t["pages"]
    rows |= {f"{name}, as deployed (nginx)": x for name, x in t.get("deployed", {}).items()}
    for name, x in rows.items():
        lines.append(f"| {name} | {x['n_charts']} | {ms(x['first']['p50'])} | {ms(x['all']['p50'])} | "
                     f"{ms(x['all']['p95'])} | {ms(x['cold_all_ms'])} | {x.get('ratio', 1.0)}x |")  # fmt: skip
        if "ratio" in x:
            targets.append((f"MiniLM {t['n_seq']} tokens, {name}: every heatmap ≤ {LONG_RATIO}x the floor's "
                            f"{t['n_seq']} x {t['n_seq']}", f"{x['ratio']}x ({x['all']['p50'] / 1e3:.1f} s)",
                            at_most(x["ratio"], LONG_RATIO)))  # fmt: skip
    return lines + [""]


def long_md(rows, targets):
    if isinstance(rows, dict):
        return long_target_md(rows, targets)
    lines = ["## Long inputs", "", "Time from navigation until every chart is drawn (warm = the run is cached on the "
             "server; cold = the first visit computes it). Ratio: every chart, warm, against the floor app's one "
             "heatmap of the same size in the same run.", "",
             "| model | n_seq | page | charts | first chart | every chart (warm) | every chart (cold) | / floor | errors |",
             "|---|---:|---|---:|---:|---:|---:|---:|---|"]  # fmt: skip
    floors = {x["n_seq"]: x["all_ms"] for x in rows if x["model"] == "floor app"}
    for x in rows:
        floor = floors.get(min(floors, key=lambda n: abs(n - x["n_seq"]))) if floors else None
        r = ratio(x["all_ms"], floor)
        lines.append(f"| {x['model']} | {x['n_seq']} | {x['page']} | {x['n_charts']} | {ms(x['first_ms'])} | "
                     f"{ms(x['all_ms'])} | {ms(x['cold_all_ms'])} | {r or '–'}x | {', '.join(x['errors']) or '–'} |")  # fmt: skip
        if x["model"] == "minilm" and x["n_seq"] >= 512:
            targets.append((f"MiniLM 512 tokens, {x['page']}: every heatmap ≤ {LONG_RATIO}x the floor's 512 x 512",
                            f"{r}x ({x['all_ms'] / 1e3:.1f} s warm, {x['cold_all_ms'] / 1e3:.1f} s cold)",
                            at_most(r, LONG_RATIO)))  # fmt: skip
    return lines + [""]


def hall_md(h, targets):
    c = h["crowd"]
    lines = ["## A lecture hall: server CPU per new viewer, and a crowd", "",
             "A viewer is what a browser does to the server, without the browser: the requests a fresh Chromium "
             f"context made for the page (recorded once; {h['static_requests']} of them Streamlit's static files "
             "on /), replayed over 6 kept-alive connections asking for gzip, then the session's websocket until "
             "every chart has arrived and the script has finished. Dashboard: nginx and 2 replicas "
             "(deploy/start.sh; nginx serves the static files from disk). Floor: the one-heatmap app under plain "
             "`streamlit run`. Server CPU: utime + stime from /proc of every process of ours (nginx master and "
             f"workers and both replicas; the floor's one process). {h['rounds']} interleaved rounds of "
             f"{h['viewers']} viewers per page, warm caches; the median batch. Viewers per minute = "
             "120 CPU-s (2 cores x 60 s) / CPU per viewer. The machine was shared with other people's work: wall "
             "times are contended, CPU times much less so.", "",
             "| page | charts | requests | HTTP bodies | server CPU per viewer | batches | / floor | viewers per minute | "
             "wall p50 | errors |", "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|"]  # fmt: skip
    for name, x in h["pages"].items():
        batches = ", ".join(f"{b:g}" for b in x["batches_ms"])
        label = "floor app" if name == "floor" else f"dashboard {name}"
        lines.append(f"| {label} | {x['charts']} | {x['requests']} | {x.get('http_mb', '–')} MB | "
                     f"{ms(x['ms_per_viewer'])} | {batches} | "
                     f"{x['ratio']}x | {x['viewers_per_minute']} | {ms(x['wall']['p50'])} | {x['n_errors']} |")  # fmt: skip
        if name != "floor":
            targets.append((f"server CPU per viewer, {name}: ≤ {PER_VIEWER:g}x the floor's",
                            f"{x['ratio']}x ({ms(x['ms_per_viewer'])} vs {ms(h['pages']['floor']['ms_per_viewer'])})",
                            at_most(x["ratio"], PER_VIEWER)))  # fmt: skip
    mem = "; ".join(f"{name} {c['rss_before_mb'][name]:g} → {c['rss_peak_mb'][name]:g} → {c['rss_after_mb'][name]:g}"
                    for name in c["rss_before_mb"])  # fmt: skip
    per_viewer = c["server_ms_per_viewer"]
    lines += ["", f"Crowd: {c['viewers']} viewers of {c['path']} arriving evenly within {c['within_s']:g} s through "
              f"nginx to 2 replicas; each keeps its session open until the last one has its {c['charts']} charts.",
              "",
              f"- time to the last chart: p50 {ms(c['all']['p50'])}, p95 {ms(c['all']['p95'])} "
              f"({c['all']['n']} viewers); errors: {c['n_errors']}"
              + (f" ({'; '.join(c['errors'])})" if c["errors"] else ""),
              f"- server CPU: {c['server_cpu_s']:g} CPU-s in {c['wall_s']:g} s, {ms(per_viewer)} per viewer under "
              f"load: {int(120e3 / per_viewer) if per_viewer else '–'} viewers per minute on 2 cores",
              f"- the load generator (this benchmark's own process, on the same {c['n_cpus']} CPUs): "
              f"{c['generator_cpu_s']:g} CPU-s; the whole machine meanwhile (others' work included): "
              f"{c['machine_cpu_s']} CPU-s",
              f"- memory (RSS, MB: before → peak with every session open → after they closed): {mem}", ""]  # fmt: skip
    targets += [
        (f"{c['viewers']} viewers within {c['within_s']:g} s: zero errors", str(c["n_errors"]), c["n_errors"] == 0),
        (f"{c['viewers']} viewers within {c['within_s']:g} s: p95 to the last chart ≤ {HALL_P95_S:g} s",
         ms(c["all"]["p95"]), at_most(c["all"]["p95"] / 1e3 if c["all"]["p95"] else None, HALL_P95_S)),
    ]  # fmt: skip
    return lines


def crowd_md(c, targets):
    p95 = c["all"]["p95"]
    lines = ["## Concurrency", "",
             f"{c['sessions']} browser contexts in {c['browsers']} Chromium processes open the dashboard at once "
             "(every Chromium runs on the server's own CPUs).", "",
             f"- first chart: p50 {ms(c['first']['p50'])}, p95 {ms(c['first']['p95'])}; every chart: "
             f"p50 {ms(c['all']['p50'])}, p95 {ms(p95)}",
             f"- errors: {c['n_errors']}" + (f" ({'; '.join(c['errors'])})" if c["errors"] else ""),
             f"- server RSS: {c['rss_before_mb']} MB before, {c['rss_open_mb']} MB with every session open, "
             f"{c['rss_after_close_mb']} MB after they closed: {c['mb_per_session']} MB per extra session"]  # fmt: skip
    if "floor" in c:
        f = c["floor"]
        lines.append(f"- the floor app under the same crowd: every chart p50 {ms(f['all']['p50'])}, p95 "
                     f"{ms(f['all']['p95'])}, {f['n_errors']} errors; dashboard / floor at p95: {c['ratio_to_floor']}x")  # fmt: skip
    for name, x in [("dashboard", c), ("floor app", c.get("floor"))]:
        if x and "machine_cpu_s" in x:  # reports written before the CPU work was recorded lack it
            lines.append(f"- CPU work of the whole machine while the {name}'s crowd loaded (every Chromium, the "
                         f"server, the driver): {x['machine_cpu_s']:g} CPU-s, {x['cpu_s_per_session']:g} a session; "
                         f"divided among {x['n_cpus']} CPUs: {x['work_per_cpu_s']:g} s")  # fmt: skip
    if "server" in c:
        v = c["server"]
        lines += ["", f"The server's share: {v['sessions']} sessions through Streamlit's websocket protocol at once "
                  "(no browser; as when every student's browser runs on their own laptop):", "",
                  f"- every chart sent and the script finished: p50 {ms(v['all']['p50'])}, p95 {ms(v['all']['p95'])}; "
                  f"first chart p95 {ms(v['first']['p95'])}; {v['charts']} charts per page; errors: {v['n_errors']}"
                  + (f" ({'; '.join(v['errors'])})" if v["errors"] else "")]  # fmt: skip
    lines.append("")
    targets += [
        (f"{c['sessions']} concurrent sessions: zero errors", str(c["n_errors"]), c["n_errors"] == 0),
        (f"{c['sessions']} concurrent browser sessions on this machine: p95 ≤ {CROWD_P95_S:g} s",
         ms(p95) + (f" (floor app: {ms(c['floor']['all']['p95'])})" if "floor" in c else ""),
         at_most(p95 / 1e3 if p95 else None, CROWD_P95_S)),
    ]  # fmt: skip
    if "server" in c:
        v = c["server"]
        targets.append((f"{v['sessions']} concurrent sessions, server side: p95 ≤ {CROWD_P95_S:g} s, zero errors",
                        f"{ms(v['all']['p95'])}, {v['n_errors']} errors",
                        at_most(v["all"]["p95"] / 1e3 if v["all"]["p95"] else None, CROWD_P95_S)
                        and v["n_errors"] == 0))  # fmt: skip
    targets.append((f"memory < {CROWD_MB:g} MB per extra session", f"{c['mb_per_session']} MB",
                    c["mb_per_session"] < CROWD_MB))  # fmt: skip
    return lines

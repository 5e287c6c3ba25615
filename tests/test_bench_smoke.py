"""The benchmark code runs end to end on tiny settings. No timings are asserted: speed lives in bench/, not here."""

import os
import time

import numpy as np
import pytest

from bench import backend, browser, report


def test_attention_benchmark_runs_and_reports_ratios():
    pytest.importorskip("torch")
    rows = backend.attention_rows(lengths=(8,), repeats=1)
    assert [r["n_seq"] for r in rows] == [8]
    r = rows[0]
    assert r["ratio_full_vs_eager"] == pytest.approx(r["ours_full_ms"] / r["torch_eager_ms"], rel=0.05, abs=0.01)


def test_forward_flops_counts_every_matmul():
    class Config:  # a one-layer encoder small enough to count by hand
        n_layer, d_model, d_ff = 1, 4, 8

    n = 3
    by_hand = 2 * n * 4 * 4 * 4 + 2 * 2 * n * 4 * 8 + 2 * 2 * n * n * 4  # Q K V O, FFN in/out, QKᵀ and weights·V
    assert backend.forward_flops(Config, n) == by_hand


def test_interleaved_medians_follow_the_work():
    t = backend.interleaved({"short": lambda: None, "long": lambda: time.sleep(0.02)}, repeats=3, warmup=0)
    assert t["long"] >= 0.02 > t["short"]


def test_percentiles_of_known_samples():
    p = browser.percentiles([0.1, 0.2, 0.3, 0.4])
    assert (p["p50"], p["n"]) == (250.0, 4)
    assert p["p95"] == pytest.approx(1e3 * np.percentile([0.1, 0.2, 0.3, 0.4], 95), abs=0.1)


def test_report_states_each_target_and_misses():
    section = dict(sessions=2, browsers=1, first=browser.percentiles([1.0, 2.0]), all=browser.percentiles([1.0, 12.0]),
                   n_errors=0, errors=[], rss_before_mb=100.0, rss_open_mb=190.0, rss_after_close_mb=150.0,
                   mb_per_session=45.0)  # fmt: skip
    md = report.markdown(dict(started="now", quick=True, machine=dict(cpus=2, processor="x", python="3",
                                                                      load_before=[1, 1, 1]), concurrency=section))  # fmt: skip
    targets = md.split("## Targets")[1].split("##")[0]
    assert "zero errors | 0 | **met**" in targets
    assert "p95 ≤ 10 s | 11,450 ms | **missed**" in targets  # 1 s + 0.95 · (12 s - 1 s), numpy's linear percentile
    assert "45.0 MB | **missed**" in targets


def test_pages_compare_with_the_floor_at_the_same_kind_of_url():
    def load(first, every):  # ms -> what interleaved_loads reports for one URL
        return dict(n_charts=1, cold_all_ms=every, first=dict(p50=first, p95=first), all=dict(p50=every, p95=every))

    b = dict(floor_load=load(1000, 1100), floor_page_load=load(1200, 1250),
             pages=dict(overview=load(1250, 1300), scores=load(1500, 2500)))  # fmt: skip
    browser.floor_ratios(b)
    assert (b["pages"]["overview"]["first_ratio"], b["pages"]["overview"]["all_ratio"]) == (1.25, 1.18)  # 1300/1100
    assert (b["pages"]["scores"]["first_ratio"], b["pages"]["scores"]["all_ratio"]) == (1.25, 2.0)  # 1500/1200
    assert b["pages"]["scores"]["first_ratio_root"] == 1.5
    b.update(floor_change=dict(n=1, failures=0, p50=100, p95=100), change_lecture=dict(n=1, failures=0, p50=140,
                                                                                      p95=150, ratio=1.4))  # fmt: skip
    md = report.markdown(dict(started="now", machine=dict(cpus=2, processor="x", python="3", load_before=[1, 1, 1]),
                              browser=b))  # fmt: skip
    assert "| floor app at /page | 1 | 1,200 ms |" in md
    assert "scores: first chart ≤ 1.3x the floor's (the floor at a page's URL) | 1.25x | **met**" in md
    assert "overview: first chart ≤ 1.3x the floor's | 1.25x | **met**" in md
    assert "| scores | 1 | 1,500 ms | 1,500 ms | 2,500 ms | 2,500 ms | 1.25x | 2.0x | 1.5x |" in md
    old = dict(b, floor_page_load=None, pages={"scores": dict(b["pages"]["scores"], first_ratio=1.5, all_ratio=2.3)})
    del old["floor_page_load"], old["pages"]["scores"]["first_ratio_root"]  # a report from before the second floor
    md = report.markdown(dict(started="then", machine=dict(cpus=2, processor="x", python="3", load_before=[1, 1, 1]),
                              browser=old))  # fmt: skip
    assert "scores: first chart ≤ 1.3x the floor's | 1.5x | **missed**" in md and "at a page's URL" not in md
    assert "/page" not in md and "| scores | 1 | 1,500 ms | 1,500 ms | 2,500 ms | 2,500 ms | 1.5x | 2.3x | 1.5x |" in md


def test_a_crowds_cpu_work_is_read_from_proc_stat_and_bounds_its_wall_time(tmp_path):
    from bench import concurrency

    stat = tmp_path / "stat"  # user nice system idle iowait irq softirq steal, in clock ticks
    stat.write_text("cpu  100 20 30 5000 40 5 5 0\ncpu0 50 10 15 2500 20 2 3 0\n")
    hz = os.sysconf("SC_CLK_TCK")
    assert concurrency.machine_busy_s(stat) == pytest.approx(160 / hz)  # idle and iowait are not work
    assert concurrency.machine_busy_s(tmp_path / "missing") is None
    bound = concurrency.cpu_bound(10.0, 130.0, sessions=30, n_cpus=2)
    assert bound == dict(machine_cpu_s=120.0, cpu_s_per_session=4.0, n_cpus=2, work_per_cpu_s=60.0)
    assert concurrency.cpu_bound(None, 130.0, 30, 2) == {}
    busy = concurrency.machine_busy_s()  # this machine's own counter (Linux) only grows
    assert busy is not None and 0 < busy <= concurrency.machine_busy_s()

    section = dict(sessions=30, browsers=3, first=browser.percentiles([1.0]), all=browser.percentiles([1.0]),
                   n_errors=0, errors=[], rss_before_mb=1.0, rss_open_mb=1.0, rss_after_close_mb=1.0,
                   mb_per_session=0.0, **bound)  # fmt: skip
    md = report.markdown(dict(started="now", machine=dict(cpus=2, processor="x", python="3", load_before=[1, 1, 1]),
                              concurrency=section))  # fmt: skip
    assert "120 CPU-s, 4 a session; divided among 2 CPUs: 60 s" in md


@pytest.mark.browser
def test_floor_app_load_and_slider_change_are_detected(playwright):
    p = playwright  # the run's one Playwright (tests/conftest.py): a second sync_playwright() would fail
    if not os.path.exists(browser.CHROMIUM):
        pytest.skip(f"Chromium not found at {browser.CHROMIUM}")
    with browser.serve(browser.FLOOR, log_name="server-smoke.log") as (url, proc):
        b = browser.launch(p)
        load = browser.page_loads(b, browser.url_for(url, n=4), repeats=1)
        at_page = browser.page_loads(b, browser.url_for(url, browser.FLOOR_PAGE, n=4), repeats=1)
        samples, failures = browser.control_changes(b, browser.url_for(url, n=4), n_changes=2)
        b.close()
        assert browser.rss_mb(proc.pid) > 10
    assert load["n_charts"] == 1 and load["errors"] == []
    assert at_page["n_charts"] == 1 and at_page["errors"] == []  # a page's URL shows the floor's one page too
    assert 0 < load["first"]["p50"] <= load["all"]["p50"]
    assert failures == 0 and len(samples) == 2  # each slider step changed the heatmap's numbers


def run_async(coroutine):  # -> its result, run in a thread of its own: the session's Playwright keeps a loop here
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def test_protocol_sessions_see_the_charts_the_server_sends():
    """bench.concurrency's browserless client speaks Streamlit's websocket protocol: it must see the page's
    charts and the script's end (the floor app has one chart; the dashboard's /scores has five)."""

    from bench import concurrency

    def crowd(*args, **query):
        return run_async(concurrency.protocol_crowd(*args, **query))

    with browser.serve(browser.FLOOR, log_name="server-smoke-protocol.log") as (url, proc):
        floor = crowd(url, proc.pid, 2, n=5)
    with browser.serve(browser.DASHBOARD, log_name="server-smoke-protocol.log") as (url, proc):
        scores = crowd(url, proc.pid, 2, "scores", stage="all")
    for crowd in (floor, scores):
        assert crowd["n_errors"] == 0 and crowd["first"]["n"] == crowd["all"]["n"] == 2
        assert 0 < crowd["first"]["p50"] <= crowd["all"]["p50"]
    assert (floor["charts"], scores["charts"]) == (1, 5)


def test_llama_flops_count_every_matmul():
    from bench import llama

    class Config:  # one layer, 2 query heads sharing 1 KV head of width 2, small enough to count by hand
        n_layer, n_head, n_kv_head, d_model, d_head, d_ff = 1, 2, 1, 4, 2, 8

    n, vocab = 3, 10
    by_hand = 2 * n * 4 * (2 + 1 + 1) * 2 + 2 * n * 4 * 4 + 2 * 2 * n * n * 4 + 2 * n * 4 * 3 * 8 + 2 * n * 4 * vocab
    assert llama.flops(Config, vocab, n) == by_hand


def test_train_bench_reports_the_ratio():
    from bench import train

    r = train.main(quick=True, rounds=1, steps=2)
    assert r["ours_steps_s"] > 0 and r["torch_steps_s"] > 0
    assert r["ratio"] == pytest.approx(r["ours_steps_s"] / r["torch_steps_s"])
    targets = []
    text = "\n".join(train.markdown(r, targets))
    assert f"{r['ratio']:.2f}x" in text and targets[0][0] == "training steps/s, ours / torch eager"


def test_a_simulated_viewer_fetches_like_a_browser_over_kept_alive_connections():
    """bench.viewer's HTTP client against a tiny server: chunked and sized bodies, the route cookie set by the
    page and sent afterwards, a status other than the browser's counted as an error."""
    import asyncio

    from bench import viewer

    seen = []

    async def handle(reader, writer):
        while line := await reader.readline():
            path, headers = line.split()[1].decode(), {}
            while (h := await reader.readline()) not in (b"\r\n", b""):
                key, _, value = h.decode().partition(":")
                headers[key.lower()] = value.strip()
            seen.append((path, headers.get("cookie"), headers.get("accept-encoding")))
            if path == "/":
                writer.write(b"HTTP/1.1 200 OK\r\nSet-Cookie: stroute=abc; Path=/\r\nContent-Length: 5\r\n\r\nhello")
            elif path == "/chunked":
                writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
            else:
                writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
        writer.close()

    async def run():
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        base = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        cookie = [None]
        wanted = [("/", 200), ("/chunked", 200), ("/missing", 404), ("/gone", 200)]
        got = await viewer.fetch_all(base, wanted, cookie)
        server.close()
        return got, cookie[0]

    (received, errors), cookie = run_async(run())
    assert received == len("hello") + len("abcde") and cookie == "stroute=abc"
    assert errors == ["GET /gone: 404 (a browser got 200)"]  # the expected 404 is not an error
    assert sorted(p for p, _, _ in seen) == ["/", "/chunked", "/gone", "/missing"]
    assert all(c == "stroute=abc" for p, c, _ in seen if p != "/") and all("gzip" in a for _, _, a in seen)


def test_a_simulated_viewer_gets_the_floor_apps_chart_and_its_cpu_is_counted():

    from bench import hall, viewer

    with browser.serve(browser.FLOOR, log_name="server-smoke-viewer.log") as (url, proc):
        requests = [("/", 200), ("/favicon.png", 200), ("/_stcore/health", 200)]
        before = hall.cpu_s([proc.pid])
        out = run_async(viewer.view(url, viewer.url_path("/", n=4), requests, n_charts=1))
        assert hall.cpu_s([proc.pid]) > before  # the server spent CPU on this viewer, read from /proc
    assert out["errors"] == [] and out["charts"] == 1 and out["all"] > 0 and out["bytes"] > 1000


def test_process_cpu_and_children_come_from_proc():
    import subprocess
    import sys

    from bench import hall

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(5)"])
    try:
        assert child.pid in hall.children(os.getpid())
    finally:
        child.kill()
        child.wait()
    start = hall.cpu_s([os.getpid()])
    deadline = time.process_time() + 0.3
    while time.process_time() < deadline:  # burn 0.3 s of CPU
        pass
    assert hall.cpu_s([os.getpid()]) - start >= 0.2
    assert hall.cpu_s([2**22 + 7]) == 0  # a process that is gone counts nothing


def test_report_states_the_hall_targets_and_misses():
    def row(ms, ratio):
        return dict(path="/", ms_per_viewer=ms, batches_ms=[ms], ratio=ratio, viewers_per_minute=int(120e3 / ms),
                    charts=1, requests=80, wall=browser.percentiles([0.5]), n_errors=0, errors=[])  # fmt: skip

    mem = {"replica 1": 250.0, "nginx": 7.0}
    crowd = dict(viewers=300, within_s=60, path="/", charts=2, wall_s=70.0, all=browser.percentiles([1.0, 12.0]),
                 n_errors=0, errors=[], server_cpu_s=60.0, server_ms_per_viewer=200.0, generator_cpu_s=30.0,
                 machine_cpu_s=110.0, n_cpus=2, rss_before_mb=mem, rss_peak_mb=mem, rss_open_mb=mem,
                 rss_after_mb=mem)  # fmt: skip
    hall = dict(rounds=2, viewers=3, static_requests=78, crowd=crowd,
                pages={"floor": row(250.0, 1.0), "/": row(200.0, 0.8), "/heads": row(300.0, 1.2)})  # fmt: skip
    md = report.markdown(dict(started="now", machine=dict(cpus=2, processor="x", python="3", load_before=[1, 1, 1]),
                              hall=hall))  # fmt: skip
    targets = md.split("## Targets")[1].split("##")[0]
    assert "server CPU per viewer, /: ≤ 1x the floor's | 0.8x (200 ms vs 250 ms) | **met**" in targets
    assert "server CPU per viewer, /heads: ≤ 1x the floor's | 1.2x (300 ms vs 250 ms) | **missed**" in targets
    assert "300 viewers within 60 s: zero errors | 0 | **met**" in targets
    assert "p95 to the last chart ≤ 10 s | 11,450 ms | **missed**" in targets
    assert "600 viewers per minute on 2 cores" in md and "30 CPU-s" in md


def test_generation_section_states_its_ratio_targets():
    rows = [dict(n_prompt=16, new=32, ours_tok_s=30.0, transformers_tok_s=12.0, ratio=2.5, same_ids=True,
                 no_cache_tok_s=1.5, cache_speedup=20.0),
            dict(n_prompt=256, new=32, ours_tok_s=2.0, transformers_tok_s=4.0, ratio=0.5, same_ids=False)]  # fmt: skip
    md = report.markdown(dict(started="now", quick=False, machine=dict(cpus=2, processor="x", python="3",
                                                                       load_before=[1, 1, 1]),
                              generate=dict(torch_threads=2, models={"gpt2 small": rows})))  # fmt: skip
    targets = md.split("## Targets")[1].split("##")[0]
    assert "gpt2 small, 16-token prompt | 2.5x | **met**" in targets
    assert "gpt2 small, 256-token prompt | 0.5x | **missed**" in targets
    assert "| gpt2 small | 16 | 30.0 | 12.0 | 2.5x | yes | 1.5 | 20.0x |" in md
    assert "| gpt2 small | 256 | 2.0 | 4.0 | 0.5x | no | — | — |" in md


def sidebar_kinds(at):  # -> [str]: the kinds of the sidebar's elements, depth-first (layout blocks left out)
    def walk(node):
        for child in getattr(node, "children", {}).values():
            if type(child).__name__ not in ("Block", "Column", "Columns", "ElementContainer"):
                yield type(child).__name__
            yield from walk(child)

    return list(walk(at.sidebar))


def test_the_floor_with_controls_draws_the_dashboards_sidebar_and_k_charts():
    """bench/anatomy.py times the floor with the dashboard's sidebar added: it must be the same widgets, in the same
    order, as the dashboard's own sidebar for the lecture model (which grows when ui/sidebar.py does)."""
    from streamlit.testing.v1 import AppTest

    from bench import anatomy

    dashboard = AppTest.from_file(str(browser.ROOT / browser.DASHBOARD), default_timeout=60)
    dashboard.run()
    floor = AppTest.from_file(str(browser.ROOT / browser.FLOOR), default_timeout=60)
    floor.query_params.update(controls="sidebar", charts="3")
    floor.run()
    assert not dashboard.exception and not floor.exception
    assert sidebar_kinds(floor) == sidebar_kinds(dashboard)
    assert len(sidebar_kinds(floor)) >= 14
    assert len(floor.get("plotly_chart")) == 3
    plain = AppTest.from_file(str(browser.ROOT / browser.FLOOR), default_timeout=60)
    plain.run()
    assert sidebar_kinds(plain) == [] and len(plain.get("plotly_chart")) == 1  # the floor itself is unchanged
    cases = anatomy.cases("http://x")
    assert cases["floor"] == "http://x/page" and cases["floor + controls, 5 charts"].endswith(
        "controls=sidebar&charts=5"
    )
    assert set(anatomy.CHARTS) == set(browser.PAGES)


def test_report_states_first_charts_as_deployed_next_to_plain():
    def load(first, every):
        return dict(n_charts=1, cold_all_ms=every, first=dict(p50=first, p95=first), all=dict(p50=every, p95=every))

    b = dict(floor_load=load(1000, 1100), floor_page_load=load(1200, 1250), pages=dict(steps=load(1800, 1900)),
             deployed=dict(steps=load(1500, 1600)), floor_change=dict(n=1, failures=0, p50=100, p95=100),
             change_lecture=dict(n=1, failures=0, p50=140, p95=150, ratio=1.4))  # fmt: skip
    browser.floor_ratios(b)
    assert b["deployed"]["steps"]["first_ratio"] == 1.25 and b["pages"]["steps"]["first_ratio"] == 1.5
    md = report.markdown(dict(started="now", machine=dict(cpus=2, processor="x", python="3", load_before=[1, 1, 1]),
                              browser=b))  # fmt: skip
    assert "steps: first chart ≤ 1.3x the floor's (the floor at a page's URL) | 1.5x | **missed**" in md
    assert "steps, as deployed (nginx): first chart ≤ 1.3x the floor's | 1.25x | **met**" in md
    assert "| steps | 1 | 1,500 ms | 1,500 ms | 1,600 ms | 1.25x | 1.28x |" in md
    from bench import anatomy

    rows = {"floor": dict(load(1200, 1250), first_ratio=1.0, all_ratio=1.0),
            "floor + controls": dict(load(1320, 1400), first_ratio=1.1, all_ratio=1.12)}  # fmt: skip
    md = report.markdown(dict(started="now", machine=dict(cpus=2, processor="x", python="3", load_before=[1, 1, 1]),
                              anatomy=rows))  # fmt: skip
    assert "| floor + controls | 1 | 1,320 ms | 1,320 ms | 1.1x | 1,400 ms | 1.12x |" in md
    assert anatomy.markdown(rows)[0].startswith("## Anatomy")
    plain, deployed = browser.split_deployed({"steps": 1, "steps" + browser.DEPLOYED: 2, "overview": 3})
    assert plain == {"steps": 1, "overview": 3} and deployed == {"steps": 2}


def test_url_for_keeps_a_paths_own_query():  # /steps' tabs are visited as "steps?part=..." with the page's query
    from bench import browser

    assert browser.url_for("http://h", "steps?part=qkv", model="minilm", text="a b") == (
        "http://h/steps?part=qkv&model=minilm&text=a+b"
    )
    assert browser.url_for("http://h", "steps?part=qkv") == "http://h/steps?part=qkv"
    assert browser.url_for("http://h", "", n=4) == "http://h/?n=4" and browser.url_for("http://h") == "http://h/"


def test_anatomy_counts_the_charts_each_page_draws_on_a_first_visit():
    """bench.anatomy sets the floor's chart count beside each page to what the page draws (lecture model, default
    view); /steps draws only its first tab's."""
    from streamlit.testing.v1 import AppTest

    from bench import anatomy

    for path, n in anatomy.CHARTS.items():
        at = AppTest.from_file(str(browser.ROOT / browser.DASHBOARD), default_timeout=120)
        if path:
            at.switch_page(f"pages/{path}.py")
        at.run()
        assert not at.exception and len(at.get("plotly_chart")) == n, (path, len(at.get("plotly_chart")))

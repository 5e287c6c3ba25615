"""Hosting: the Dockerfile's promises, and 2 replicas behind Debian's nginx serving real browser sessions."""

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from bench.browser import CHROMIUM_ARGS  # Debian Chromium's flags, one copy

ROOT = Path(__file__).resolve().parents[1]
NGINX = Path("/usr/sbin/nginx")
CHROMIUM = Path("/usr/bin/chromium")
N_SESSIONS = 12  # >= 10; with a 50/50 hash split, all 12 land on one replica with probability 2 / 4096
RENDER_TIMEOUT_MS = 120_000  # 2 cores, a dozen sessions computing at once


# ---- the Dockerfile, read statically (no Docker engine runs here; CI runs the same setup script) ----


def dockerfile_instructions():  # -> [(INSTRUCTION, arguments)], continuation lines joined
    text = (ROOT / "Dockerfile").read_text()
    joined = re.sub(r"\\\n", " ", text)
    lines = [line.strip() for line in joined.splitlines()]
    return [tuple(line.split(None, 1)) for line in lines if line and not line.startswith("#")]


def test_dockerfile_builds_on_setup_script_as_non_root_with_health_check():
    steps = [(op.upper(), args) for op, args in dockerfile_instructions()]
    ops = [op for op, _ in steps]
    assert steps[0] == ("FROM", "python:3.11-slim")
    runs = [args for op, args in steps if op == "RUN"]
    assert any("bash scripts/setup.sh" in args and "--dev" not in args for args in runs), runs

    users = [args for op, args in steps if op == "USER"]
    assert users and users[-1].split(":")[0] not in {"root", "0"}, "the container must end as a non-root USER"
    setup_at = next(i for i, (op, args) in enumerate(steps) if op == "RUN" and "scripts/setup.sh" in args)
    assert ops.index("USER") < setup_at, "run setup.sh as the app user, so .venv belongs to it"

    health = [args for op, args in steps if op == "HEALTHCHECK"]
    assert len(health) == 1 and "http://localhost:8501/_stcore/health" in health[0]
    assert ("EXPOSE", "8501") in steps


def test_dockerfile_serves_static_files_from_nginx_built_at_build_time():
    steps = [(op.upper(), args) for op, args in dockerfile_instructions()]
    ops = [op for op, _ in steps]
    nginx_at = next(i for i, (op, args) in enumerate(steps) if op == "RUN" and "apt-get install" in args)
    assert "nginx" in steps[nginx_at][1].split() and nginx_at < ops.index("USER"), "install nginx as root, first"
    build_at = next(i for i, (op, args) in enumerate(steps) if op == "RUN" and "deploy/static_assets.py" in args)
    static_dir = steps[build_at][1].split()[-1]
    env = " ".join(args for op, args in steps if op == "ENV")
    assert f"STATIC_DIR={static_dir}" in env and "LISTEN=0.0.0.0" in env, env
    assert build_at > max(i for i, (op, args) in enumerate(steps) if op == "COPY"), "after the code is copied"
    cmd = [args for op, args in steps if op == "CMD"][-1]
    assert re.fullmatch(r'\["bash",\s*"deploy/start.sh",\s*"1",\s*"8501"\]', cmd), cmd


def test_dockerignore_keeps_local_environment_out_of_the_image():
    ignored = {line.strip().rstrip("/") for line in (ROOT / ".dockerignore").read_text().splitlines()}
    assert {".venv", ".git"} <= ignored
    for needed in ("app.py", "requirements.txt", "scripts", "attention", "ui", "pages"):
        assert needed not in ignored


def test_kubernetes_example_has_probes_shared_secret_and_affinity():
    import yaml  # PyYAML comes with huggingface_hub (requirements.txt)

    docs = {doc["kind"]: doc for doc in yaml.safe_load_all((ROOT / "deploy" / "kubernetes.yaml").read_text())}
    pod = docs["Deployment"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] == "/_stcore/health"
    secret = next(env for env in container["env"] if env["name"] == "STREAMLIT_SERVER_COOKIE_SECRET")
    assert "secretKeyRef" in secret["valueFrom"], "the cookie secret must come from a Secret, shared by every pod"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    assert docs["Service"]["spec"]["sessionAffinity"] == "ClientIP"
    assert docs["Ingress"]["metadata"]["annotations"]["nginx.ingress.kubernetes.io/affinity"] == "cookie"


def test_static_assets_mirror_the_package_with_gzip_copies_made_ahead(tmp_path):
    import gzip
    import importlib.util

    spec = importlib.util.spec_from_file_location("static_assets", ROOT / "deploy" / "static_assets.py")
    static_assets = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(static_assets)
    source = tmp_path / "package_static"
    (source / "static" / "js").mkdir(parents=True)
    bundle = b"export const f = (x) => x * 2;\n" * 200  # compresses well
    files = {"index.html": b"<!doctype html>" * 40, "static/js/index.Ab12.js": bundle, "static/js/tiny.js": b"1;",
             "favicon.png": os.urandom(4000)}  # fmt: skip
    for name, data in files.items():
        (source / name).write_bytes(data)
    dest = tmp_path / "served"
    assert static_assets.build(dest, source, "9.9") == (4, 2)
    for name, data in files.items():
        assert (dest / name).is_symlink() and (dest / name).read_bytes() == data  # the package is only read
    assert gzip.decompress((dest / "static/js/index.Ab12.js.gz").read_bytes()) == bundle
    assert not (dest / "static/js/tiny.js.gz").exists(), "too small to be worth a .gz"
    assert not (dest / "favicon.png.gz").exists(), "random bytes do not shrink"
    assert sorted(p.name for p in source.rglob("*.gz")) == [], "nothing written into the package"
    assert static_assets.build(dest, source, "9.9") is None  # up to date: not rebuilt
    assert static_assets.build(dest, source, "10.0") == (4, 2)  # another streamlit: rebuilt


@pytest.mark.parametrize("args", [[], ["zero"], ["0"], ["2", "80a"]])
def test_start_script_rejects_bad_arguments_with_usage(args):
    done = subprocess.run(["bash", "deploy/start.sh", *args], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert re.search(r"usage|must be", done.stderr), done.stderr


# ---- 2 replicas behind nginx, driven by real browsers ----


def free_port_block(n):  # -> a port p with p .. p+n-1 all free on 127.0.0.1
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base + n > 65535:
            continue
        try:
            held = []
            for port in range(base, base + n):
                sock = socket.socket()
                held.append(sock)
                sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for sock in held:
                sock.close()
    raise RuntimeError("no block of free ports on 127.0.0.1")


class Cluster:
    """deploy/start.sh N PORT running in its own process group; its output parsed as it arrives."""

    def __init__(self, n_replica):
        self.port = free_port_block(n_replica + 1)
        overrides = {"APP", "LISTEN", "NGINX", "REPLICA_BASE_PORT"}  # the real app.py, on loopback, Debian's nginx
        env = {key: value for key, value in os.environ.items() if key not in overrides}
        self.proc = subprocess.Popen(
            ["bash", "deploy/start.sh", str(n_replica), str(self.port)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.output = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.output.append(line.rstrip("\n"))

    def wait_ready(self, timeout=240):  # -> url
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready = [line for line in self.output if line.startswith("ready ")]
            if ready:
                return ready[0].split()[1]
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        time.sleep(0.5)
        pytest.fail("deploy/start.sh did not become ready:\n" + "\n".join(self.output) + self.logs_tail())

    def pids(self):  # -> {"replica 1": (pid, port), ..., "nginx": (pid, port)}
        found = {}
        for line in self.output:
            match = re.match(r"(replica \d+|nginx) pid=(\d+) port=(\d+)", line)
            if match:
                found[match[1]] = (int(match[2]), int(match[3]))
        return found

    def run_dir(self):  # -> Path of the logs and rendered config
        return Path(next(line.split()[1] for line in self.output if line.startswith("logs ")))

    def logs_tail(self):  # -> the last lines of every log, for a failure message
        try:
            run_dir = self.run_dir()
        except StopIteration:
            return ""
        tails = [f"\n--- {log.name}\n" + "\n".join(log.read_text().splitlines()[-15:]) for log in run_dir.glob("*.log")]
        return "".join(tails)

    def stop(self):  # TERM to the script: its trap must stop every replica and nginx
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)

    def kill_group(self):  # safety net: whatever is left of the process group this test started
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=10)


@contextlib.contextmanager
def cluster(n_replica):  # the logs stay in the run directory only when the test fails
    started = Cluster(n_replica)
    try:
        yield started
    finally:
        try:
            started.stop()
        finally:
            started.kill_group()
    with contextlib.suppress(StopIteration):
        shutil.rmtree(started.run_dir(), ignore_errors=True)


def open_session(browser, url, cookies=()):  # -> (context, page, replica address that served the page)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    if cookies:
        context.add_cookies(list(cookies))
    page = context.new_page()
    response = page.goto(url, wait_until="domcontentloaded", timeout=60_000)
    assert response is not None and response.ok, f"{url} answered {response and response.status}"
    tried = response.headers.get("x-replica", "")
    assert tried, "nginx must name the replica in X-Replica"
    return context, page, tried.split(",")[-1].strip()  # after a failover: "dead, live"


def assert_renders(page):
    page.locator('[data-testid="stApp"]').wait_for(state="visible", timeout=RENDER_TIMEOUT_MS)
    # Whichever comes first: a chart, or an exception (fail fast instead of waiting for a chart that never comes).
    page.locator('.js-plotly-plot, [data-testid="stException"]').first.wait_for(
        state="visible", timeout=RENDER_TIMEOUT_MS
    )
    assert page.locator('[data-testid="stException"]').count() == 0, page.locator(
        '[data-testid="stException"]'
    ).first.inner_text()


def assert_static_from_nginx(browser, url):  # a fresh session: every /static/ file it loads came from nginx's disk
    context = browser.new_context()
    page = context.new_page()
    static = []
    page.on("response", lambda r: static.append(r) if "/static/" in r.url else None)
    page.goto(url, wait_until="domcontentloaded", timeout=60_000)
    assert_renders(page)
    headers = {r.url: r.all_headers() for r in static}
    context.close()
    assert len(headers) > 20, f"a page loads Streamlit's bundles from /static/: {sorted(headers)}"
    for asset, h in headers.items():
        assert h.get("x-served-by") == "nginx-static" and "x-replica" not in h, (asset, h)
        assert "immutable" in h.get("cache-control", ""), (asset, h)
        if asset.endswith((".js", ".css")):  # the .gz made by deploy/static_assets.py; a tiny file goes as it is
            assert h.get("content-encoding") == "gzip" or int(h["content-length"]) < 256, (asset, h)
            assert h["content-type"].startswith(("text/javascript", "text/css")), (asset, h)
    assert sum(h.get("content-encoding") == "gzip" for h in headers.values()) > 20


def route_key(context):  # -> the stroute cookie nginx set for this browser session
    keys = [cookie["value"] for cookie in context.cookies() if cookie["name"] == "stroute"]
    assert len(keys) == 1, context.cookies()
    return keys[0]


LOG_LINE = re.compile(r'"(\S+ \S+) [^"]*" (\d+) route=(\S+) upstream=(.*) rt=')  # see log_format in the template
STREAM = ("GET /_stcore/stream", "101")  # a websocket; nginx logs it when it closes


def routes_when(run_dir, done, timeout=30):  # -> {route key: [(request, status, upstream)]} once done(routes)
    deadline = time.monotonic() + timeout
    while True:
        routes = {}
        for line in (run_dir / "access.log").read_text().splitlines():
            if match := LOG_LINE.search(line):
                routes.setdefault(match[3], []).append((match[1], match[2], match[4]))
        if done(routes) or time.monotonic() > deadline:
            return routes
        time.sleep(0.5)


def answered(routes, key, request_status, address):  # -> True if `address` finally answered that request for key
    return any(
        (request, status) == request_status and upstream.split(", ")[-1] == address  # "dead, live" after a retry
        for request, status, upstream in routes.get(key, ())
    )


@pytest.mark.browser
@pytest.mark.skipif(not NGINX.exists(), reason="Debian's nginx is not installed; run: bash scripts/setup.sh --dev")
@pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian's Chromium is not installed; run: bash scripts/setup.sh --dev"
)
def test_two_replicas_behind_nginx_serve_sticky_sessions_and_survive_a_dead_replica(playwright):
    with cluster(2) as running:
        pw = playwright
        url = running.wait_ready()
        replicas = {name: pid_port for name, pid_port in running.pids().items() if name.startswith("replica")}
        addresses = {f"127.0.0.1:{port}" for _, port in replicas.values()}
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            # Every session works, and the sessions are spread over both replicas.
            sessions = [open_session(browser, url) for _ in range(N_SESSIONS)]
            for _, page, _ in sessions:
                assert_renders(page)
            served = {key: replica for key, replica in ((route_key(c), r) for c, _, r in sessions)}
            assert len(served) == N_SESSIONS, "each browser session must get its own route cookie"
            assert set(served.values()) == addresses, f"sessions not spread over both replicas: {served}"

            # Streamlit's static files came from nginx's disk, gzipped ahead of time; no replica served them.
            assert_static_from_nginx(browser, url)

            # Sticky: each session's page, health checks and websocket all went to the replica that served its page.
            # One viewer on the replica we will kill stays open; the others close, so nginx logs their websockets.
            stranded = sessions[0]
            stranded_key, dead_address = route_key(stranded[0]), stranded[2]
            for context, _, _ in sessions:
                if context is not stranded[0]:
                    context.close()
            closed = {key: replica for key, replica in served.items() if key != stranded_key}
            routes = routes_when(running.run_dir(), lambda r: all((*STREAM, closed[k]) in r.get(k, ()) for k in closed))
            for key, replica in closed.items():
                assert (*STREAM, replica) in routes.get(key, ()), (key, routes.get(key))
                assert {upstream for _, _, upstream in routes[key]} == {replica}, (key, routes[key])

            # Kill one replica. Its open viewer reconnects to the other; new viewers, and a returning viewer whose
            # replica died, work through the other.
            dead_name = next(name for name, (_, port) in replicas.items() if f"127.0.0.1:{port}" == dead_address)
            os.kill(replicas[dead_name][0], signal.SIGKILL)
            live = (addresses - {dead_address}).pop()
            returning_key = next((key for key, replica in closed.items() if replica == dead_address), stranded_key)
            returning = [{"name": "stroute", "value": returning_key, "url": url}]
            after = [open_session(browser, url, returning)] + [open_session(browser, url) for _ in range(3)]
            for context, page, replica in after:
                assert replica == live
                assert_renders(page)
                context.close()
            # The stranded viewer's frontend checks /_stcore/health, then reopens its websocket: wait for the check
            # to reach the live replica, close the page, and find the reopened websocket in the log.
            host_config = ("GET /_stcore/host-config", "200")
            routes = routes_when(running.run_dir(), lambda r: answered(r, stranded_key, host_config, live), timeout=60)
            assert answered(routes, stranded_key, host_config, live), (
                "viewer never came back",
                routes.get(stranded_key),
            )
            stranded[0].close()
            routes = routes_when(running.run_dir(), lambda r: answered(r, stranded_key, STREAM, live))
            assert answered(routes, stranded_key, STREAM, live), (
                "no websocket on the live one",
                routes.get(stranded_key),
            )
        except BaseException:
            print("\n".join(running.output) + running.logs_tail())
            raise
        finally:
            browser.close()

        # Ctrl-C/TERM to the script stops everything it started.
        others = [pid for name, (pid, _) in running.pids().items() if name != dead_name]
        running.stop()
        for pid in others:
            assert not pid_alive(pid), f"process {pid} outlived deploy/start.sh"


def pid_alive(pid):  # -> True while the process exists and is not a zombie
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/stat")
    return not (status.exists() and status.read_text().split()[2] == "Z")

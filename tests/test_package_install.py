"""The package as a new user gets it: a clean copy of the repository is built (sdist, then a wheel from it),
the wheel goes into a fresh virtual environment, and the installed `attention` runs `models` and `dashboard`
(its health endpoint answers and a page renders in Chromium). Then `pip install "git+<this repository>"` works too.

The fresh environment gets its dependencies from the configured index (pip's cache makes a rerun quick); about a
minute of CPU, most of it unpacking the dependencies' wheels.
"""

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from bench.browser import free_port, wait_healthy

ROOT = Path(__file__).resolve().parents[1]
GENERIC = {"ui", "pages", "bench", "tests", "app", "scripts", "docs", "deploy"}
pytestmark = pytest.mark.timeout(900)


def sh(*cmd, cwd=None, timeout=600):  # -> stdout; a failure shows the command's own output
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(map(str, cmd))} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return done.stdout


def clean_copy(dest):  # -> Path: the files a `git clone` of this working tree would hold (tracked + new, not ignored)
    listed = sh("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=ROOT).split("\0")
    for name in filter(None, listed):
        src = ROOT / name
        if src.is_file():  # a tracked file deleted in the working tree is not copied
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    return dest


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):  # -> (venv bin dir, wheel path, clean copy): the wheel installed in a fresh venv
    tmp = tmp_path_factory.mktemp("package")
    clone = clean_copy(tmp / "clone")
    sh(sys.executable, "-m", "build", "--outdir", str(tmp / "dist"), str(clone))
    (wheel,) = (tmp / "dist").glob("*.whl")
    sh(sys.executable, "-m", "venv", "--without-pip", str(tmp / "venv"))  # this pip installs into it: 10 s less
    bin_dir = tmp / "venv" / "bin"
    pip(bin_dir, str(wheel))
    return bin_dir, wheel, clone


def pip(bin_dir, *args):  # `pip install` into the fresh venv (pip runs it with that venv's own Python)
    sh(sys.executable, "-m", "pip", "--python", str(bin_dir / "python"), "install", "--no-compile",
       "--disable-pip-version-check", *args)  # fmt: skip


def site_packages(bin_dir):  # -> Path of the fresh venv's site-packages
    return Path(sh(str(bin_dir / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").strip())


def test_wheel_holds_the_backend_its_data_and_the_dashboard_under_its_own_name(fresh):
    _, wheel, clone = fresh
    names = set(zipfile.ZipFile(wheel).namelist())
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top == {"attention", "attention_dashboard"}, top
    assert not top & GENERIC
    shipped = {p.relative_to(clone).as_posix() for p in (clone / "attention").rglob("*") if p.is_file()}
    assert shipped <= names, f"not in the wheel: {sorted(shipped - names)}"  # every module and data file
    dashboard = {"app.py", ".streamlit/config.toml", *(p.relative_to(clone).as_posix()
                                                       for d in ("pages", "ui") for p in (clone / d).glob("*.py"))}  # fmt: skip
    assert {f"attention_dashboard/{n}" for n in dashboard} <= names
    assert "attention_dashboard/setup.py" not in names
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "attention = attention.cli:main" in zipfile.ZipFile(wheel).read(entry).decode()


def project(requirement):  # "scikit-learn<2,>=1.4" -> "scikit-learn"
    return re.split(r"[<>=!~;\[ ]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_wheel_requires_what_requirements_txt_lists(fresh):
    _, wheel, clone = fresh
    with zipfile.ZipFile(wheel) as z:
        meta = z.read(next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))).decode()
    requires = [line.split(":", 1)[1] for line in meta.splitlines() if line.startswith("Requires-Dist:")]
    runtime = sorted(project(r) for r in requires if "extra ==" not in r)
    listed = [line.split("#")[0] for line in (clone / "requirements.txt").read_text().splitlines()]
    assert runtime == sorted(project(r) for r in listed if r.strip())
    figures = [project(r) for r in requires if 'extra == "figures"' in r]
    assert figures == ["kaleido"]


def test_installed_attention_models_lists_the_models(fresh, tmp_path):
    bin_dir, _, _ = fresh
    out = sh(str(bin_dir / "attention"), "models", cwd=tmp_path)  # away from the checkout: only the installed copy
    assert out.splitlines()[0].split()[:3] == ["lecture", "available", "offline"]
    assert sh(str(bin_dir / "python"), "-m", "attention", "models", cwd=tmp_path) == out
    where = sh(str(bin_dir / "python"), "-c", "import attention, attention.dashboard as d; print(attention.__file__);"
               "print(d.app_path())", cwd=tmp_path).split()  # fmt: skip
    assert all(Path(w).is_relative_to(site_packages(bin_dir)) for w in where), where


@pytest.mark.browser
def test_installed_attention_dashboard_serves_the_pages(fresh, tmp_path, playwright):
    bin_dir, _, _ = fresh
    port = free_port()
    log = open(tmp_path / "server.log", "w")
    proc = subprocess.Popen([str(bin_dir / "attention"), "dashboard", "--server.port", str(port), "--server.address",
                             "127.0.0.1", "--server.headless", "true"], cwd=tmp_path, stdout=log,
                            stderr=subprocess.STDOUT)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc)
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                             args=["--headless", "--no-sandbox", "--disable-gpu"])  # fmt: skip
        try:
            page = browser.new_page()
            for path, title in (("", "Attention, visible"), ("heads", "Heads: several ways of looking at once")):
                page.goto(f"{url}/{path}")
                page.wait_for_selector('[data-testid="stPlotlyChart"] .main-svg', timeout=120_000)
                assert page.locator("h1").first.inner_text().strip() == title
                assert page.locator('[data-testid="stException"]').count() == 0
        finally:
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()
    server_log = (tmp_path / "server.log").read_text()
    assert "Traceback" not in server_log, server_log


def test_pip_install_from_a_git_url(fresh, tmp_path):
    """`pip install "git+<repository url>"`: pip clones the repository (its last commit) and builds it itself. The
    dependencies are already in the venv (the wheel brought them), so only the package is built and replaced."""
    bin_dir, _, _ = fresh
    commit = sh("git", "rev-parse", "HEAD", cwd=ROOT).strip()
    pip(bin_dir, "--no-deps", "--force-reinstall", f"git+{ROOT.as_uri()}@{commit}")
    out = sh(str(bin_dir / "attention"), "figure", "--text", "she ate a sweet apple", "--out", "apple.html",
             cwd=tmp_path)  # fmt: skip
    assert "wrote apple.html" in out and os.path.getsize(tmp_path / "apple.html") > 1e6  # plotly.js inside
    assert (site_packages(bin_dir) / "attention_dashboard" / "app.py").is_file()

"""`attention figure`: the HTML opens in Chromium with no network and shows the chart (with its hover), the SVG
parses and holds the token labels, the PNG has the size asked for; a missing Chromium gets a clear message."""

import struct
import xml.etree.ElementTree as ET

import pytest

from attention import figure_file
from attention.cli import main
from attention.figures.common import token_labels

TEXT = "she ate a sweet apple & a banana"  # "&": a label that must not turn into markup anywhere
TOKENS = ["she", "ate", "a", "sweet", "apple", "&", "a", "banana"]


def figure(tmp_path, suffix, *extra):  # -> path written by `attention figure`
    out = tmp_path / f"fig{suffix}"
    assert main(["figure", "--text", TEXT, "--heads", "4", "--preset", "designed", "--out", str(out), *extra]) == 0
    return out


def test_tokens_are_the_lecture_models():
    from attention import run

    assert run("lecture", TEXT).tokens == TOKENS


@pytest.mark.browser
def test_html_opens_offline_in_chromium_and_shows_the_chart(tmp_path, playwright):
    out = figure(tmp_path, ".html", "--view", "weights")
    browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                         args=["--headless", "--no-sandbox", "--disable-gpu"])  # fmt: skip
    try:
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        blocked = []
        page.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else (
            blocked.append(r.request.url), r.abort()))  # fmt: skip
        page.goto(out.as_uri())
        page.wait_for_selector(".main-svg .hm image", timeout=30_000)
        ticks = page.locator(".xtick text").evaluate_all("ts => ts.map(t => t.textContent)")
        assert ticks == [t.replace("&amp;", "&") for t in token_labels(TOKENS)]  # "a (2)" and "a (6)": kept apart
        box = page.locator(".nsewdrag").first.bounding_box()
        page.mouse.move(box["x"] + box["width"] * 0.1, box["y"] + box["height"] * 0.1)  # the first query, first key
        page.wait_for_selector(".hoverlayer .hovertext", timeout=10_000)
        assert "query she" in page.locator(".hoverlayer .hovertext").first.evaluate("t => t.textContent")
        page.wait_for_selector('.modebar-btn[data-title="Download plot as SVG"]', state="attached", timeout=10_000)
        buttons = page.locator(".modebar-btn").evaluate_all("bs => bs.map(b => b.getAttribute('data-title'))")
        assert "Download plot as a PNG" in buttons and "Share chart..." not in buttons  # nothing goes to a cloud
        assert not blocked, blocked  # plotly.js is inside the file: nothing was fetched
    finally:
        browser.close()


def svg_texts(path):  # -> every text the SVG draws
    root = ET.parse(path).getroot()
    return ["".join(e.itertext()) for e in root.iter() if e.tag.endswith("}text")]


def test_svg_parses_and_holds_the_token_labels(tmp_path):
    out = figure(tmp_path, ".svg", "--view", "heads", "--width", "1100", "--height", "500")
    root = ET.parse(out).getroot()
    assert (root.get("width"), root.get("height")) == ("1100", "500")
    texts = svg_texts(out)
    labels = [t.replace("&amp;", "&") for t in token_labels(TOKENS)]  # repeated "a" is "a (2)", "a (6)"
    assert set(labels) <= set(texts), set(labels) - set(texts)
    assert {"head 0", "head 3"} <= set(texts)


def png_size(path):  # -> (width, height) from the PNG's IHDR chunk
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_png_has_the_size_asked_for(tmp_path):
    out = figure(tmp_path, ".png", "--view", "stages", "--width", "800", "--height", "600", "--scale", "2")
    assert png_size(out) == (1600, 1200)


def test_no_chromium_says_how_to_get_one(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))  # no browser on it
    monkeypatch.delenv("BROWSER_PATH", raising=False)
    with pytest.raises(RuntimeError, match="BROWSER_PATH"):
        figure_file.find_chromium()
    assert main(["figure", "--text", TEXT, "--out", str(tmp_path / "fig.svg")]) == 1
    err = capsys.readouterr().err
    assert "none was found" in err and "--out fig.html" in err and not (tmp_path / "fig.svg").exists()
    monkeypatch.setenv("BROWSER_PATH", str(tmp_path / "nothing-here"))
    assert main(["figure", "--text", TEXT, "--out", str(tmp_path / "fig.png")]) == 1
    assert "is not an executable" in capsys.readouterr().err


def test_bad_view_options_end_in_one_line(tmp_path, capsys):
    assert main(["figure", "--text", TEXT, "--view", "heads", "--layer", "5", "--out", str(tmp_path / "a.html")]) == 1
    assert capsys.readouterr().err.strip() == "error: layer must be an integer from 0 to 0 for this run (got 5)"
    assert main(["figure", "--text", TEXT, "--out", str(tmp_path / "a.pdf")]) == 1
    assert "--out must end in .html, .svg, .png" in capsys.readouterr().err

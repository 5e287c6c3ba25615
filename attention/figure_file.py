"""A figure written to a file: standalone interactive HTML (plotly.js embedded, opens offline), or SVG / PNG
rendered by Kaleido (the plotly project's exporter) driving a Chromium already on this machine.

Kaleido never downloads a browser here. The Chromium is the first of: $BROWSER_PATH (Kaleido's own setting),
then `chromium`, `chromium-browser`, `google-chrome`, `google-chrome-stable`, `chrome` on $PATH.
"""

import os
import shutil
from pathlib import Path

from .figures.common import export_config, slug

FORMATS = (".html", ".svg", ".png")
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
WIDTH, HEIGHT, SCALE = 1000, None, 2  # px; HEIGHT None: the figure's own height (or 700)


def check_format(path):  # str | Path -> ".html" | ".svg" | ".png"
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"--out must end in {', '.join(FORMATS)} (got {str(path)!r}); e.g. --out fig.svg")
    return suffix


def find_chromium():  # -> path of a Chromium / Chrome executable; raises RuntimeError saying how to get one
    """$BROWSER_PATH if set (it must exist), else the first browser of BROWSERS on $PATH."""
    chosen = os.environ.get("BROWSER_PATH")
    if chosen:
        if not (Path(chosen).is_file() and os.access(chosen, os.X_OK)):
            raise RuntimeError(f"BROWSER_PATH={chosen!r} is not an executable; point it to Chromium or Chrome")
        return chosen
    for name in BROWSERS:
        if path := shutil.which(name):
            return path
    raise RuntimeError(
        "SVG and PNG need a Chromium or Chrome, and none was found (looked for $BROWSER_PATH, then "
        f"{', '.join(BROWSERS)} on $PATH). Install one (Debian/Ubuntu: `apt install chromium`) or set "
        "BROWSER_PATH=/path/to/chrome; or write --out fig.html, which needs no browser."
    )


def html_config(name):  # -> plotly config for a standalone page: PNG from its camera, nothing sent anywhere
    return export_config(name) | {"responsive": True, "showSendToCloud": False}


SVG_BUTTON = """
var gd = document.getElementById('{plot_id}');
var svg = {name: 'svg', title: 'Download plot as SVG', icon: Plotly.Icons.camera,
           click: function (g) { Plotly.downloadImage(g, {format: 'svg', filename: SLUG}); }};
Plotly.react(gd, gd.data, gd.layout, Object.assign(CONFIG, {modeBarButtonsToAdd: [svg]}));
"""  # a second camera in the standalone page's toolbar (the page's own JavaScript; a Streamlit chart's cannot)


def to_html(fig, name="attention"):  # go.Figure -> str: one HTML file that opens offline and keeps the hover
    """plotly.js is embedded (about 4.7 MB), so the file needs no network; its toolbar saves PNG and SVG."""
    import json

    import plotly.io as pio

    config = html_config(name)
    script = SVG_BUTTON.replace("SLUG", json.dumps(slug(name))).replace("CONFIG", json.dumps(config))
    return pio.to_html(fig, include_plotlyjs=True, full_html=True, config=config, post_script=script,
                       default_width="100%")  # fmt: skip


def image_bytes(fig, fmt, width=WIDTH, height=HEIGHT, scale=SCALE):  # go.Figure, "svg" | "png" -> bytes
    """Rendered by Kaleido in the Chromium find_chromium names; never downloads a browser."""
    try:
        import kaleido  # noqa: F401
    except ImportError:
        raise RuntimeError(
            "SVG and PNG need Kaleido: pip install 'kaleido>=1' (or the package's [figures] extra); "
            "--out fig.html needs nothing more"
        ) from None
    import plotly.io as pio

    os.environ["BROWSER_PATH"] = find_chromium()  # Kaleido (choreographer) reads it
    height = height or fig.layout.height or 700
    try:
        return pio.to_image(fig, format=fmt, width=width, height=height, scale=scale if fmt == "png" else 1)
    except Exception as e:  # Kaleido's and choreographer's own errors: a browser that would not start, ...
        raise RuntimeError(f"Kaleido could not render the {fmt} with {os.environ['BROWSER_PATH']}: {e}") from e


def write(fig, path, name=None, width=WIDTH, height=HEIGHT, scale=SCALE):  # -> Path written
    """Write `fig` as .html, .svg or .png, chosen by the extension."""
    suffix, path = check_format(path), Path(path)
    if suffix == ".html":
        path.write_text(to_html(fig, name or path.stem), encoding="utf-8")
    else:
        path.write_bytes(image_bytes(fig, suffix[1:], width, height, scale))
    return path

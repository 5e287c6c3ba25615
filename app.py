"""The dashboard's frame: pages grouped by lesson, one shared sidebar, the view mirrored in the URL.

Run it with `streamlit run app.py`. Each page lives in pages/ and reads `ui.sidebar.current()`.
"""

from pathlib import Path

import streamlit as st

from ui import sidebar
from ui.page import Halt, image_format_control

# Presentation mode: our own constant CSS (never user text) enlarges the page's fonts for a projector.
PRESENT_CSS = """<style>
[data-testid="stMainBlockContainer"] { font-size: 1.3rem; max-width: 100%; }
[data-testid="stMainBlockContainer"] h1 { font-size: 3rem; }
[data-testid="stMarkdownContainer"] p { font-size: 1.3rem; }
[data-testid="stMainBlockContainer"] [data-testid="stSelectbox"] input,
[data-testid="stMainBlockContainer"] textarea { font-size: 1.3rem; }
[data-testid="stMainBlockContainer"] [data-testid="stCaptionContainer"],
[data-testid="stMainBlockContainer"] [data-testid="stCaptionContainer"] p { font-size: 1.1rem; }
[data-testid="stMainBlockContainer"] [data-testid="stTable"] :is(td, th) { font-size: 1.2rem; }
</style>"""

ROOT = Path(__file__).parent
# Pages grouped by what they teach (TEACHING.md), so a student finds the lesson, not a list.
SECTIONS = {  # section -> [(file, title, icon, url path)]
    "Start here": [("overview.py", "Overview", ":material/visibility:", "")],
    "How attention computes": [
        ("scores.py", "Scores", ":material/grid_on:", "scores"),
        ("steps.py", "Step by step", ":material/calculate:", "steps"),
        ("heads.py", "Heads", ":material/view_module:", "heads"),
    ],
    "What context does": [
        ("pull.py", "Context pull", ":material/scatter_plot:", "pull"),
        ("compare.py", "Compare", ":material/compare:", "compare"),
    ],
    "Beyond the weights": [
        ("flow.py", "Flow", ":material/timeline:", "flow"),
        ("geometry.py", "Geometry", ":material/hub:", "geometry"),
    ],
    "Models at work": [
        ("generate.py", "Generate", ":material/edit_note:", "generate"),
        ("train.py", "Train", ":material/model_training:", "train"),
    ],
}
PAGES = [entry for entries in SECTIONS.values() for entry in entries]
OWN_CONTROLS = {"train"}  # url paths of pages whose settings are all on the page: the sidebar keeps only its frame


def navigation_pages():  # -> {section: [st.Page]}: a page still being written is left out, not a crash
    sections = {
        section: [
            st.Page(f"pages/{file}", title=title, icon=icon, url_path=path, default=path == "")
            for file, title, icon, path in entries
            if (ROOT / "pages" / file).exists()
        ]
        for section, entries in SECTIONS.items()
    }
    return {section: pages for section, pages in sections.items() if pages}


st.set_page_config(page_title="Attention, visible", page_icon="👁️", layout="wide")  # emoji: no icon CDN
page = st.navigation(navigation_pages())
shared = page.url_path not in OWN_CONTROLS
settings = sidebar.prepare(shared)  # from the link and the widgets' state: no widget is drawn yet
st.set_page_config(initial_sidebar_state="collapsed" if settings.present else "expanded")
if settings.present:
    st.html(PRESENT_CSS)
try:
    page.run()  # first, so that its charts reach the browser before the sidebar's widgets
except Halt:
    pass  # the page stopped early and said why (a bad sentence, a model to download)
finally:
    sidebar.draw(shared)  # the controls stay, so the user can mend what stopped the page
    image_format_control()  # PNG or SVG from every chart's camera
sidebar.finish()

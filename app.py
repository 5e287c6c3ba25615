"""The dashboard's frame: six pages, one shared sidebar, the view mirrored in the URL.

Run it with `streamlit run app.py`. Each page lives in pages/ and reads `ui.sidebar.current()`.
"""

from pathlib import Path

import streamlit as st

from ui import sidebar
from ui.page import Halt

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
PAGES = [  # file, title, icon, url path
    ("overview.py", "Overview", ":material/visibility:", ""),
    ("scores.py", "Scores", ":material/grid_on:", "scores"),
    ("heads.py", "Heads", ":material/view_module:", "heads"),
    ("pull.py", "Context pull", ":material/scatter_plot:", "pull"),
    ("steps.py", "Step by step", ":material/calculate:", "steps"),
    ("compare.py", "Compare", ":material/compare:", "compare"),
    ("flow.py", "Flow", ":material/timeline:", "flow"),
    ("geometry.py", "Geometry", ":material/hub:", "geometry"),
    ("generate.py", "Generate", ":material/edit_note:", "generate"),
]

st.set_page_config(page_title="Attention, visible", page_icon="👁️", layout="wide")  # emoji: no icon CDN
page = st.navigation(
    [
        st.Page(f"pages/{file}", title=title, icon=icon, url_path=path, default=path == "")
        for file, title, icon, path in PAGES
        if (ROOT / "pages" / file).exists()  # a page still being written is left out, not a crash
    ]
)
settings = sidebar.prepare()  # from the link and the widgets' state: no widget is drawn yet
st.set_page_config(initial_sidebar_state="collapsed" if settings.present else "expanded")
if settings.present:
    st.html(PRESENT_CSS)
try:
    page.run()  # first, so that its charts reach the browser before the sidebar's widgets
except Halt:
    pass  # the page stopped early and said why (a bad sentence, a model to download)
finally:
    sidebar.draw()  # the controls stay, so the user can mend what stopped the page
sidebar.finish()

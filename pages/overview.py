"""Overview (placeholder while the page is built)."""

import streamlit as st

from ui import page, sidebar

settings = sidebar.current()
page.header("Overview", "Attention, in one minute.")
run = page.load(settings)
page.notices(run, settings)
st.write(run.n_seq)

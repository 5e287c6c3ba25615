"""Streamlit-side helpers shared by the pages: settings, URL state, caching. The math lives in attention/."""

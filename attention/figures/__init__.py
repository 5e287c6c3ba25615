"""Figure builders: pure functions from arrays (or a Run) to plotly figures. No Streamlit here."""

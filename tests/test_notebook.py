"""examples/attention.ipynb runs top to bottom in a real Jupyter kernel (nbclient + ipykernel): every cell runs
without an error, and every cell that ends in attention.show(...) puts a plotly figure into the notebook."""

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "examples" / "attention.ipynb"
PLOTLY = "application/vnd.plotly.v1+json"
SHOWS = re.compile(r"^attention\.show\(", re.M)

pytestmark = pytest.mark.timeout(600)


def figure_cell(cell):  # its last line draws a figure
    lines = cell.source.strip().splitlines()
    return bool(lines) and SHOWS.match(lines[-1]) is not None


def test_notebook_is_stored_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.outputs == [] and c.execution_count is None for c in code)


def test_notebook_runs_in_a_real_kernel_and_each_figure_cell_draws_plotly(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # the kernel imports this checkout's attention, as if installed
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code)
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors, errors
    figures = [c for c in code if figure_cell(c)]
    assert len(figures) >= 7  # the apple pair, MiniLM's heads, the export read back, ...
    for cell in figures:
        data = [o.get("data", {}) for o in cell.outputs if o.output_type in ("execute_result", "display_data")]
        assert any(PLOTLY in d for d in data), cell.source
        spec = next(d[PLOTLY] for d in data if PLOTLY in d)
        assert spec["data"], cell.source  # a figure with traces

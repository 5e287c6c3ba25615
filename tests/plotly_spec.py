"""Read back what a page sent to the browser: plotly >= 6 encodes numpy arrays as {"dtype", "bdata", "shape"}."""

import base64
import json
import re

import numpy as np


def decode(value):  # {"dtype", "bdata", "shape"} | list | scalar -> np.ndarray
    """One plotly array, base64 typed-array form or plain JSON list, as numpy (None -> NaN)."""
    if isinstance(value, dict) and "bdata" in value:
        a = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = value.get("shape")
        if isinstance(shape, str):
            shape = [int(s) for s in shape.split(",")]
        return a.reshape(shape) if shape else a
    return np.array(value, dtype=object if value and isinstance(value[0], str) else np.float64)


def figures(at):  # AppTest -> list[dict]: every plotly figure on the page, as sent
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def trace_values(figure, field, index=0):  # -> np.ndarray
    return decode(figure["data"][index][field])


def one_line(title):  # a stage panel's title, broken to fit its panel ("name<br>[shape] = […]") -> as one line
    """Undo fitted_title's breaks: two spaces before a shape, one before its "= [n, m]", " · " before a note."""
    return re.sub(r"<br>(?=\[)", "  ", title).replace("<br>=", " =").replace("<br>", " · ")

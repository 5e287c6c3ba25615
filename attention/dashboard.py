"""Start the dashboard: `attention dashboard [streamlit run options]`, e.g. `attention dashboard --server.port 8502`.

Every option after `dashboard` goes to `streamlit run` unchanged (`streamlit run --help` lists them). The
dashboard's files (app.py, pages/, ui/, .streamlit/config.toml) come from the installed package
`attention_dashboard`, or from this checkout's root when the package is not installed.
"""

import importlib.util
import sys
from pathlib import Path

HELP = "start the dashboard in Streamlit; options after it go to `streamlit run`"
PASSTHROUGH = True
PACKAGE = "attention_dashboard"  # where pip puts app.py, pages/, ui/ and .streamlit/ (see setup.py)


def add_arguments(parser):  # nothing to parse: subcommands.split_passthrough hands them on
    parser.epilog = (
        "examples:\n  attention dashboard\n  attention dashboard --server.port 8502 --server.address 0.0.0.0"
    )


def app_path():  # -> Path of the dashboard's app.py: the installed package's, else this checkout's
    spec = importlib.util.find_spec(PACKAGE)
    places = [Path(p) for p in (spec.submodule_search_locations or [])] if spec else []
    places.append(Path(__file__).resolve().parent.parent)  # a checkout: app.py beside attention/
    for place in places:
        if (place / "app.py").is_file() and (place / "ui").is_dir():
            return place / "app.py"
    raise FileNotFoundError(
        f"the dashboard's files are missing (looked in {', '.join(map(str, places))}); reinstall the package: "
        "pip install --force-reinstall attention-dashboard, or run `streamlit run app.py` in a clone"
    )


def command(extra):  # list[str] -> the argv of `streamlit run`
    return ["run", str(app_path()), *extra]


def main(args):  # -> exit status (Streamlit's, when the server stops)
    """Streamlit runs in this process: Ctrl-C stops it as it would `streamlit run`."""
    try:
        from streamlit.web import cli as streamlit_cli
    except ImportError:
        raise ImportError("the dashboard needs Streamlit: pip install 'streamlit>=1.67'") from None
    argv = command(getattr(args, "extra", []))
    sys.argv = ["streamlit", *argv]
    return streamlit_cli.main(argv, prog_name="streamlit")  # exits with Streamlit's status

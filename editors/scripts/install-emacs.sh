#!/usr/bin/env bash
# Install Emacs 28 and Eglot from Debian, and rassumfrassum (the `rass` LSP multiplexer that
# runs Exhort beside another Elixir server) from PyPI (idempotent).
# Usage: install-emacs.sh [PYTHON]  (default: python3). rass goes into that Python's
# environment when it is a virtualenv, else into .cache/editors/rass. Prints the emacs path.
source "$(dirname "$0")/_common.sh"

RASS_VERSION=0.3.5
PY="${1:-python3}"

apt_install emacs-nox elpa-eglot

bin_dir="$("$PY" -c 'import sys, sysconfig; print(sysconfig.get_path("scripts") if sys.prefix != sys.base_prefix else "")')"
if [ -n "$bin_dir" ]; then
  if [ "$("$bin_dir/rass" --version 2>/dev/null)" != "rass $RASS_VERSION" ]; then
    log "pip install rassumfrassum==$RASS_VERSION into $bin_dir/.."
    "$PY" -m pip install --quiet "rassumfrassum==$RASS_VERSION" >&2
  fi
else
  # Not a virtualenv: a private copy and a `rass` launcher in .cache/editors/rass/bin
  # (the editor tests put that folder on PATH).
  target="$CACHE_DIR/rass"
  if [ ! -f "$target/.installed-$RASS_VERSION" ]; then
    log "pip install rassumfrassum==$RASS_VERSION into $target"
    rm -rf "$target"
    "$PY" -m pip install --quiet --target "$target/lib" "rassumfrassum==$RASS_VERSION" >&2
    mkdir -p "$target/bin"
    printf '#!/bin/sh\nPYTHONPATH="%s" exec "%s" -m rassumfrassum "$@"\n' "$target/lib" "$(command -v "$PY")" > "$target/bin/rass"
    chmod +x "$target/bin/rass"
    touch "$target/.installed-$RASS_VERSION"
  fi
fi
command -v emacs

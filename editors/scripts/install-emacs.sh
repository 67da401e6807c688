#!/usr/bin/env bash
# Install Emacs 28 and Eglot from Debian (idempotent). Prints the emacs executable path.
source "$(dirname "$0")/_common.sh"

apt_install emacs-nox elpa-eglot
command -v emacs

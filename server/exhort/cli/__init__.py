"""The `exhort` command (see main.py)."""

import sys


def run() -> int:
    """The console script. `exhort serve` goes straight to the language server: importing the
    CLI first (its reporters, runner and registry) would add a fifth of a second to every
    editor's start, before the server can answer initialize."""
    if sys.argv[1:2] == ["serve"]:
        from ..lsp import serve

        return serve(sys.argv[2:])
    from .main import main

    return main()

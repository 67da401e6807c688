"""`python -m exhort.lsp [--tcp HOST:PORT]`: the language server without the CLI wrapper."""

import sys

from .server import main

sys.exit(main(sys.argv[1:]))

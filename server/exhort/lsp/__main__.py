"""`python -m exhort.lsp [--tcp HOST:PORT]`: the language server without the CLI wrapper."""

import sys

from . import serve

sys.exit(serve(sys.argv[1:]))

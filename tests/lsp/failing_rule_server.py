"""The language server with one extra rule that always raises (test-only, never shipped).

Launched by test_lsp_server.py as the server command to check that a broken rule is
disabled for the document and reported once, while the other rules keep working.
"""

import sys

import exhort.registry as registry
from exhort.findings import Severity
from exhort.rule import Rule

BROKEN = Rule(
    code="TST999",
    name="always-raises",
    category="test",
    severity=Severity.WARNING,
    summary="Raises on every match",
    explanation="## TST999 always-raises\n",
    query="(call) @call",
    pack="test",
)


@BROKEN.check
def check(ctx, match):
    raise RuntimeError("this rule is broken on purpose")


registry._default = registry.Registry([*registry.default_registry().rules, BROKEN])

from exhort.lsp.server import main  # noqa: E402  (after the registry is replaced)

sys.exit(main(sys.argv[1:]))

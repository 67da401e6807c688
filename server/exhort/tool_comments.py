"""Suppression comments of other Elixir tools that exhort honours for the rules mirroring them.

A team that already reviewed a call for Sobelow (`# sobelow_skip ["DOS.StringToAtom"]` above the
function) or silenced Credo on a line (`# credo:disable-for-next-line`) has recorded its
decision in the code. Reporting the same call again under an exhort code is noise, so rules that
mirror those checks ask here before they report.

- Sobelow: `# sobelow_skip ["Check.Name", ...]` on the lines right above a function definition
  covers that function. A check named by its family (`"DOS"`) covers every check in it.
- Credo: `# credo:disable-for-next-line [Check]`, `# credo:disable-for-previous-line [Check]`,
  `# credo:disable-for-lines:N [Check]` and `# credo:disable-for-this-file [Check]`. Without a
  check name the comment covers every check; with one, only the checks named.
"""

from __future__ import annotations

import re

from tree_sitter import Node

from .syntax import enclosing_def

_SOBELOW = re.compile(rb"#\s*sobelow_skip\s*\[([^\]]*)\]")
_CREDO = re.compile(rb"#\s*credo:disable-for-(next-line|previous-line|this-file|lines:(-?\d+))\b[ \t]*([\w.]*)")


def sobelow_skipped(data: bytes, node: Node, checks: tuple[str, ...]) -> bool:
    """A `# sobelow_skip [...]` naming one of `checks` sits right above the function `node` is in."""
    definition = enclosing_def(node)
    if definition is None:
        return False
    line_start = data.rfind(b"\n", 0, definition.start_byte) + 1
    position = line_start
    while position > 0:  # the comment and attribute lines directly above the definition
        previous_start = data.rfind(b"\n", 0, position - 1) + 1
        line = data[previous_start:position].strip()
        if not line.startswith((b"#", b"@")):
            break
        match = _SOBELOW.search(line)
        if match:
            named = {name.strip().strip("\"'") for name in match.group(1).decode(errors="replace").split(",")}
            if any(check in named or check.split(".")[0] in named for check in checks):
                return True
        position = previous_start
    return False


def credo_disabled(data: bytes, node: Node, checks: tuple[str, ...]) -> bool:
    """A `# credo:disable-...` comment covers the line `node` starts on, for one of `checks`
    (full Credo check names such as `Credo.Check.Warning.IoInspect`) or for every check."""
    if b"credo:disable" not in data:
        return False
    line = data.count(b"\n", 0, node.start_byte)
    for match in _CREDO.finditer(data):
        named = match.group(3).decode(errors="replace")
        if named and not any(named == check or check.endswith("." + named) for check in checks):
            continue
        comment_line = data.count(b"\n", 0, match.start())
        kind = match.group(1)
        if kind == b"this-file":
            return True
        if kind == b"next-line" and line == comment_line + 1:
            return True
        if kind == b"previous-line" and line == comment_line - 1:
            return True
        if match.group(2) is not None:
            count = int(match.group(2))
            covered = range(comment_line + 1, comment_line + 1 + count) if count >= 0 else range(comment_line + count, comment_line)
            if line in covered:
                return True
    return False

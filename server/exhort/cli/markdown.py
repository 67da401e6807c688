"""Rule explanations for a terminal: the Markdown the rules are written in, made readable.

Only what explanations use is handled: headings, paragraphs, `**bold**`, inline code, lists,
links and fenced code blocks. Headings are underlined, code blocks indented (their fences
dropped), and with colour inline code and code blocks are tinted; without colour, inline
code keeps its backticks, which is how plain text marks code.
"""

from __future__ import annotations

import re

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_INLINE_CODE = re.compile(r"(`+)(.+?)\1")
_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")

BOLD, DIM, CODE, UNDERLINE = "1", "2", "36", "4"


def render_markdown(markdown: str, colour: bool) -> str:
    def paint(style: str, text: str) -> str:
        return f"\x1b[{style}m{text}\x1b[0m" if colour and text else text

    def inline(text: str) -> str:
        # code spans first, so that ** or [ inside them stay as written
        pieces = []
        position = 0
        for match in _INLINE_CODE.finditer(text):
            pieces.append(_prose(text[position : match.start()], paint))
            code = match.group(2)
            pieces.append(paint(CODE, code) if colour else f"`{code}`")
            position = match.end()
        pieces.append(_prose(text[position:], paint))
        return "".join(pieces)

    out: list[str] = []
    in_code = False
    for line in markdown.splitlines():
        if _FENCE.match(line):
            in_code = not in_code
            continue
        if in_code:
            out.append("    " + paint(CODE, line) if line.strip() else "")
            continue
        heading = _HEADING.match(line)
        if heading:
            title = _strip_markup(heading.group(2))
            out.append(paint(BOLD, title))
            out.append(("=" if len(heading.group(1)) <= 2 else "-") * len(title))
            continue
        out.append(inline(line))
    return "\n".join(out).rstrip("\n") + "\n"


def _prose(text: str, paint) -> str:
    text = _LINK.sub(lambda m: f"{m.group(1)} <{m.group(2)}>", text)
    return _BOLD.sub(lambda m: paint(BOLD, m.group(1)), text)


def _strip_markup(text: str) -> str:
    return _BOLD.sub(r"\1", _INLINE_CODE.sub(r"\2", text))

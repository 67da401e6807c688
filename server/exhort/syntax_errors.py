"""EXH002 syntax-error: code the parser could not read, so no rule checked it.

The engine skips what does not parse (the user is typing: unknown never fires), which is
right in an editor and wrong in CI, where a broken file would otherwise pass in silence.
Adapters that report whole files (the CLI) ask the engine for these findings with
`report_syntax_errors=True`; the language server does not, so half-typed code shows nothing.

One finding per top-level form that holds an error: the form is the unit the rules skip
(module-scope rules skip all of it, node-scope rules its broken members), and where the
parser noticed the problem is all a reader needs to find it.
"""

from __future__ import annotations

import tree_sitter as ts

from .document import Document
from .findings import Finding, Severity
from .rule import Rule, bad, good
from .syntax import is_defmodule, module_name

SYNTAX_ERROR = Rule(
    code="EXH002",
    name="syntax-error",
    category="exhort",
    severity=Severity.ERROR,
    summary="Code that does not parse, so no rule checked it",
    fix_safety="none",
    explanation="""
        ## EXH002 syntax-error

        Exhort could not parse this code, so the rules skipped the top-level form around it
        (the whole `defmodule`, for the rules that read a module at once). A file that does
        not compile, an unfinished merge or a template saved with the `.ex` suffix would
        otherwise pass the check without having been read.

        The position is where the parser noticed the problem, which can be after the real
        mistake: a missing `end` is reported at the end of the module or the file.

        `exhort check` reports this; the language server does not, since code being typed is
        incomplete most of the time.

        **Bad**

        ```elixir
        defmodule App.Stats do
          def parse(params) do
            String.to_atom(params["kind"]
          end
        end
        ```

        **Good**: code that compiles. A file that is not Elixir (an EEx template named
        `.ex`) belongs in `extend-exclude`, or carries `# exhort:disable-file EXH002`.
    """,
    examples=[
        bad(
            """
            defmodule App.Stats do
              def parse(params) do
                params["kind"] |> , String.to_atom()  # expect: EXH002
              end
            end
            """
        ),
        bad(
            """
            defmodule App.Open do
              def f(x) do
                x
            end
            # expect: EXH002
            """,
            note="a missing `end` is found at the end of the file",
        ),
        good(
            """
            defmodule App.Stats do
              def parse(params), do: Map.fetch!(params, "kind")
            end
            """
        ),
    ],
)
SYNTAX_ERROR.pack = "exhort"


def syntax_error_findings(document: Document) -> list[Finding]:
    """One EXH002 finding per top-level form that does not parse, at its first error."""
    if document.tree is None or not document.tree.root_node.has_error:
        return []
    findings = []
    for form in document.tree.root_node.children:
        if not (form.has_error or form.is_error or form.is_missing):
            continue
        problem = _first_error(form)
        if problem is None:
            continue
        lines = document.lines
        first_line = lines.line_of(form.start_byte) + 1
        last_line = lines.line_of(max(form.end_byte - 1, form.start_byte)) + 1
        region = f"line {first_line}" if first_line == last_line else f"lines {first_line}-{last_line}"
        if is_defmodule(form) and module_name(form):
            region += f" (defmodule {module_name(form)})"
        if problem.is_missing:
            # at the very end of a file that ends with a newline, the parser's position is on
            # a line past the last one: show it at the end of the last line instead
            at = problem.start_byte
            if at == len(document.data) and document.data.endswith(b"\n"):
                at -= 2 if document.data.endswith(b"\r\n") else 1
            what, start, end = f"missing `{problem.type}`", at, at
        else:  # the flagged span stops at the end of the error's first line
            what, start = "Exhort cannot parse this code", problem.start_byte
            end = min(problem.end_byte, lines.line_end(lines.line_of(start)))
        findings.append(
            Finding(
                code=SYNTAX_ERROR.code,
                severity=SYNTAX_ERROR.severity,
                start=start,
                end=end,
                message=f"Syntax error: {what}, so {region} {'was' if first_line == last_line else 'were'} "
                "not fully checked",
            )
        )
    return findings


def _first_error(node: ts.Node) -> ts.Node | None:
    """The first ERROR or MISSING node under `node`, in document order."""
    if node.is_error or node.is_missing:
        return node
    for child in node.children:
        if child.has_error or child.is_error or child.is_missing:
            found = _first_error(child)
            if found is not None:
                return found
    return None

"""PRF001 expensive-empty-check."""

from exhort.execution import Runs
from exhort.findings import Severity
from exhort.rule import Context, Match, Rule, bad, fix, good, replace_node
from exhort.syntax import call_name, effective_arguments, integer_value, needs_parentheses, text
from exhort.tool_comments import credo_disabled

CREDO_CHECKS = ("Credo.Check.Warning.ExpensiveEmptyEnumCheck",)

# comparison operator with the count on the left -> is it "empty" (True) or "not empty" (False)?
# Entries are (operator, constant); reversed comparisons are normalised first.
EMPTINESS = {
    ("==", 0): True, ("===", 0): True, ("<=", 0): True, ("<", 1): True,
    ("!=", 0): False, ("!==", 0): False, (">", 0): False, (">=", 1): False,
}
MIRROR = {"<": ">", ">": "<", "<=": ">=", ">=": "<=", "==": "==", "!=": "!=", "===": "===", "!==": "!=="}
LOOSE_PARENTS = {"and", "or", "&&", "||", "when", "=", "|>", "->", "not", "!"}

RULE = Rule(
    code="PRF001",
    name="expensive-empty-check",
    category="performance",
    severity=Severity.INFORMATION,
    summary="Counting a whole list only to test whether it is empty",
    fix_safety="safe/offer",
    # Walking a list costs something only where the deployed system runs: not in tests (where
    # `assert length(rows) > 0` reads naturally), Mix tasks, migrations or compile-time code.
    runs_in=frozenset({Runs.PRODUCTION}),
    # One side a call (or a pipe into a call) named length/count, the other an integer
    # (integer_value reads `-1` too); _count_call and EMPTINESS decide the rest.
    query=r"""
    ((binary_operator
       left: COUNTED
       operator: _ @operator
       right: [(integer) (unary_operator)]) @comparison
      (#any-of? @operator "==" "!=" "===" "!==" ">" "<" ">=" "<=") (#any-of? @_fn "length" "count"))
    ((binary_operator
       left: [(integer) (unary_operator)]
       operator: _ @operator
       right: COUNTED) @comparison
      (#any-of? @operator "==" "!=" "===" "!==" ">" "<" ">=" "<=") (#any-of? @_fn "length" "count"))
    """.replace("COUNTED", r"""[(call target: [(identifier) @_fn (dot right: (identifier) @_fn)])
               (binary_operator operator: "|>" right: (call target: [(identifier) @_fn (dot right: (identifier) @_fn)]))]"""),
    explanation="""
        ## PRF001 expensive-empty-check

        `length/1` and `Enum.count/1,2` walk the whole collection. Comparing the result with
        0 (or 1) only asks whether it is empty, which `x == []`, `x != []` or `Enum.empty?/1`
        answer in constant time. This mirrors Credo's `ExpensiveEmptyEnumCheck` (EX5003).

        Only production code is checked: in tests (`assert length(rows) > 0`), Mix tasks,
        migrations, console tasks and compile-time code (module attributes, macros) the walk
        costs nothing that matters. A `# credo:disable-for-...` comment covering the line
        (for every check or for `ExpensiveEmptyEnumCheck`) is honoured.

        Flagged: `length(x)`, `Enum.count(x)` and `Enum.count(x, fun)` compared with `0` using
        `==`, `!=`, `>`, `<`, `>=`, `<=` (either order), and with `1` using `>=` / `<`.

        **Bad**

        ```elixir
        if length(expired) > 0 do
        ```

        **Good**

        ```elixir
        if expired != [] do
        ```

        **Fix**: `length(x) > 0` → `x != []` and `length(x) == 0` → `x == []` are safe
        (`length/1` only accepts lists); `Enum.count(x) == 0` → `Enum.empty?(x)` is safe.
        `Enum.count(x, fun)` → `Enum.any?(x, fun)` is only offered: it stops at the first match,
        so side effects in `fun` run fewer times.
    """,
    examples=[
        bad(
            """
            defmodule MyApp.Cleanup do
              def run(expired) do
                if length(expired) > 0 do  # expect: PRF001
                  :work
                end
              end

              def none?(items), do: Enum.count(items) == 0  # expect: PRF001
              def some?(items), do: 0 < Enum.count(items)  # expect: PRF001
              def guarded(list) when length(list) >= 1, do: :ok  # expect: PRF001
              def piped(items), do: items |> Enum.filter(& &1.ok) |> length() == 0  # expect: PRF001
            end
            """,
            fixed="""
            defmodule MyApp.Cleanup do
              def run(expired) do
                if expired != [] do  # expect: PRF001
                  :work
                end
              end

              def none?(items), do: Enum.empty?(items)  # expect: PRF001
              def some?(items), do: not Enum.empty?(items)  # expect: PRF001
              def guarded(list) when list != [], do: :ok  # expect: PRF001
              def piped(items), do: items |> Enum.filter(& &1.ok) == []  # expect: PRF001
            end
            """,
        ),
        bad(
            """
            def active?(users), do: Enum.count(users, & &1.active) > 0  # expect: PRF001
            def empty_concat?(a, b), do: length(a ++ b) == 0  # expect: PRF001
            """,
            fixed="""
            def active?(users), do: Enum.any?(users, & &1.active)  # expect: PRF001
            def empty_concat?(a, b), do: a ++ b == []  # expect: PRF001
            """,
        ),
        good(
            """
            def many?(items), do: length(items) > 1
            def exactly_one?(items), do: Enum.count(items) == 1
            def size(items), do: length(items)
            def never(items), do: length(items) >= 0
            def empty?(items), do: items == []
            def cmp(a, b), do: length(a) == length(b)
            """,
            note="comparisons that are not emptiness checks",
        ),
        good(
            """
            defmodule MyApp.ThingsTest do
              use ExUnit.Case
              test "lists things", %{things: things} do
                assert length(things) > 0
              end
            end
            """,
            path="test/my_app/things_test.exs",
            note="tests read naturally with length/1 and cost nothing",
        ),
        good(
            """
            defmodule MyApp.Fields do
              @fields [:name, :email]
              @any_fields length(@fields) > 0

              defmacro guarded(list) do
                if length(list) > 0, do: :some, else: :none
              end

              def check(items) do
                # credo:disable-for-next-line Credo.Check.Warning.ExpensiveEmptyEnumCheck
                length(items) > 0
              end
            end
            """,
            note="module attributes and macros run at compile time; a line the team silenced for Credo",
        ),
        good(
            """
            def other(map), do: map_size(map) == 0
            def stream(s), do: Stream.count(s) > 0
            def mine(x), do: MyEnum.count(x) == 0
            """,
            note="other functions, including map_size/1 which is O(1)",
        ),
    ],
)


@RULE.check
def check(ctx: Context, match: Match):
    comparison = match.node("comparison")
    if credo_disabled(ctx.data, comparison, CREDO_CHECKS):
        return  # the team silenced Credo's ExpensiveEmptyEnumCheck here
    operator = text(match.node("operator"))
    left = comparison.child_by_field_name("left")
    right = comparison.child_by_field_name("right")
    if left is None or right is None:
        return
    counted, constant = _count_call(left), integer_value(right)
    if counted is None:
        counted, constant = _count_call(right), integer_value(left)
        operator = MIRROR[operator]
    if counted is None or constant is None:
        return
    empty = EMPTINESS.get((operator, constant))
    if empty is None:
        return
    function, subject, predicate = counted
    if function == "length":
        replacement = f"{_operand(subject)} {'==' if empty else '!='} []"
        fixes = [fix(f"Replace with {replacement}", replace_node(comparison, replacement), safe=True)]
        message = "length/1 walks the whole list to test emptiness; compare with [] instead"
    elif predicate is None:
        replacement = f"{'' if empty else 'not '}Enum.empty?({text(subject)})"
        fixes = [fix(f"Replace with {replacement}", replace_node(comparison, _wrap(comparison, replacement)), safe=True)]
        message = "Enum.count/1 walks the whole collection to test emptiness; use Enum.empty?/1"
    else:
        replacement = f"{'not ' if empty else ''}Enum.any?({text(subject)}, {text(predicate)})"
        fixes = [fix(f"Replace with {replacement}", replace_node(comparison, _wrap(comparison, replacement)), safe=False)]
        message = "Enum.count/2 walks the whole collection; Enum.any?/2 stops at the first match"
    yield ctx.finding(comparison, message, fixes=fixes)


def _count_call(node):
    """(function, subject, predicate) for length(x), Enum.count(x) or Enum.count(x, f)."""
    if node.type == "binary_operator" and text(node.child_by_field_name("operator")) == "|>":
        node = node.child_by_field_name("right")  # `x |> length()`: the pipe feeds the call
    if node is None or node.type != "call":
        return None
    module, function = call_name(node)
    arguments = effective_arguments(node)
    if module is None and function == "length" and len(arguments) == 1:
        return "length", arguments[0], None
    if module == "Enum" and function == "count" and len(arguments) in (1, 2):
        return "count", arguments[0], arguments[1] if len(arguments) == 2 else None
    return None


def _operand(node) -> str:
    return f"({text(node)})" if needs_parentheses(node) and not _is_tight(node) else text(node)


def _is_tight(node) -> bool:
    """Operators that bind tighter than == (arithmetic, ++, |>) need no parentheses."""
    if node.type != "binary_operator":
        return False
    op = text(node.child_by_field_name("operator"))
    return op in ("++", "--", "<>", "+", "-", "*", "/", "|>", "..", "<<<", ">>>", "in", "not in")


def _wrap(comparison, replacement: str) -> str:
    """Keep `not ...` grouped where the comparison sat inside a tighter operator."""
    parent = comparison.parent
    if replacement.startswith("not ") and parent is not None and parent.type in ("binary_operator", "unary_operator"):
        op = text(parent.child_by_field_name("operator"))
        if op not in LOOSE_PARENTS:
            return f"({replacement})"
    return replacement

"""OBN004 perform-args-pattern-never-matches."""

from exhort.findings import Edit, Severity
from exhort.rule import Context, Match, Rule, bad, fix, good, replace_node
from exhort.syntax import atom_value, function_def, keyword_key, text

from .._queries import def_query
from ._common import in_test_script, is_oban_job, worker_use

RULE = Rule(
    code="OBN004",
    requires=(b"Oban",),  # only modules that `use Oban.Worker`
    name="perform-args-pattern-never-matches",
    category="oban",
    severity=Severity.ERROR,
    summary="A perform/1 args pattern that JSON-decoded args can never match",
    fix_safety="safe/offer",
    query=def_query(["def"], ["perform"], capture="call"),  # the check wants def perform/1 only
    explanation="""
        ## OBN004 perform-args-pattern-never-matches

        "The `args` map provided to `perform/1` will *always* have string keys… The `args` are
        stored as `jsonb`" (`oban:lib/oban/worker.ex:423-431@v2.23.1`). JSON turns atoms into
        strings and has no tuples, so a `perform/1` clause that matches atom keys, atom values
        (other than `true`, `false`, `nil`), tuples, or a bare string-keyed map (the Oban 1.x
        args shape, where Oban 2 passes the `%Oban.Job{}`) never matches: every job raises
        `FunctionClauseError`, is retried up to `max_attempts` and then discarded.
        `Oban.Testing.perform_job/3` stringifies args too, so only hand-built `%Job{}` tests hide it.

        **Bad**

        ```elixir
        def perform(%Oban.Job{args: %{user_id: id}}), do: ...
        ```

        **Good**

        ```elixir
        def perform(%Oban.Job{args: %{"user_id" => id}}), do: ...
        ```

        **Fix**: atom keys → string keys (safe: the clause could never match before). Atom
        values → strings (offer: guards or later code may compare with the atom).
    """,
    examples=[
        bad(
            """
            defmodule MyApp.Welcome do
              use Oban.Worker
              def perform(%Oban.Job{args: %{"kind" => kind, user_id: id}}) do  # expect: OBN004
                MyApp.Mail.welcome(id, kind)
              end
            end
            """,
            fixed="""
            defmodule MyApp.Welcome do
              use Oban.Worker
              def perform(%Oban.Job{args: %{"kind" => kind, "user_id" => id}}) do  # expect: OBN004
                MyApp.Mail.welcome(id, kind)
              end
            end
            """,
            note="atom keys: safe fix",
        ),
        bad(
            """
            defmodule MyApp.Sync do
              use Oban.Worker
              alias Oban.Job

              def perform(%Job{args: %{"status" => :active} = args}) when is_map(args), do: sync(args)  # expect: OBN004
              def perform(job = %Job{args: %{"range" => {from, to}}}), do: range(job, from, to)  # expect: OBN004
              def perform(%Job{args: %{"nested" => %{id: id}}}), do: sync(id)  # expect: OBN004
              def perform(%Job{}), do: :ok
            end
            """,
            fixed="""
            defmodule MyApp.Sync do
              use Oban.Worker
              alias Oban.Job

              def perform(%Job{args: %{"status" => "active"} = args}) when is_map(args), do: sync(args)  # expect: OBN004
              def perform(job = %Job{args: %{"range" => {from, to}}}), do: range(job, from, to)  # expect: OBN004
              def perform(%Job{args: %{"nested" => %{"id" => id}}}), do: sync(id)  # expect: OBN004
              def perform(%Job{}), do: :ok
            end
            """,
            note="atom value with a guard, a tuple, nested atom keys; several clauses",
        ),
        bad(
            """
            defmodule MyApp.Legacy do
              use Oban.Worker
              def perform(%{"id" => id}), do: {:ok, id}  # expect: OBN004
            end
            """,
            note="a bare string-keyed map is the 1.x args shape",
        ),
        good(
            """
            defmodule MyApp.Welcome do
              use Oban.Worker
              def perform(%Oban.Job{args: %{"user_id" => id, "admin" => true, "team" => nil}}), do: {:ok, id}
              def perform(%{args: %{"id" => id}}), do: {:ok, id}
              def perform(%Job{args: args, attempt: 1}), do: {:ok, args}
            end
            """,
            note="string keys, true/false/nil values, an atom-keyed map matching the Job struct",
        ),
        good(
            """
            defmodule MyApp.NotAWorker do
              def perform(%{user_id: id}), do: id
              def perform(%Oban.Job{args: %{user_id: id}}, _), do: id
            end
            """,
            note="not a worker / not perform/1",
        ),
        good(
            """
            defmodule MyApp.ProWorker do
              use Oban.Pro.Worker
              def process(%Oban.Job{args: %{user_id: id}}), do: {:ok, id}
            end
            """,
            note="Pro workers (structured args) are excluded",
        ),
    ],
)


@RULE.check
def check(ctx: Context, match: Match):
    if in_test_script(ctx):
        return  # worker fixtures in test scripts are often invalid on purpose
    definition = function_def(match.node("call"))
    if definition is None or definition.name != "perform" or definition.arity != 1:
        return
    if worker_use(ctx.module_of(match.node("call"))) is None:
        return
    param = definition.params[0]
    job_maps = list(_job_structs(ctx, param))
    if not job_maps:
        plain = _bare_map(param)
        if plain is not None and _string_keyed(plain):
            yield ctx.finding(
                plain,
                "perform/1 receives the %Oban.Job{}, not the args map: this clause never matches "
                "(match %Oban.Job{args: %{...}})",
                fixes=[fix("Match %Oban.Job{args: ...}", replace_node(plain, f"%Oban.Job{{args: {text(plain)}}}"), safe=True)],
            )
        return
    for job in job_maps:
        content = next((c for c in job.named_children if c.type == "map_content"), None)
        keywords = next((c for c in content.named_children if c.type == "keywords"), None) if content else None
        if keywords is None:
            continue
        for pair in keywords.named_children:
            if pair.type == "pair" and keyword_key(pair) == "args":
                yield from _check_args(ctx, pair.child_by_field_name("value"))


def _job_structs(ctx, node):
    """%Oban.Job{} maps in a parameter, through `=` bindings."""
    if node.type == "map":
        struct = next((c for c in node.named_children if c.type == "struct"), None)
        if struct is not None:
            alias = next((c for c in struct.named_children if c.type == "alias"), None)
            if alias is not None and is_oban_job(ctx, node, text(alias)):
                yield node
    elif node.type == "binary_operator" and text(node.child_by_field_name("operator")) == "=":
        yield from _job_structs(ctx, node.child_by_field_name("left"))
        yield from _job_structs(ctx, node.child_by_field_name("right"))


def _bare_map(node):
    if node.type == "map" and not any(c.type == "struct" for c in node.named_children):
        return node
    if node.type == "binary_operator" and text(node.child_by_field_name("operator")) == "=":
        return _bare_map(node.child_by_field_name("left")) or _bare_map(node.child_by_field_name("right"))
    return None


def _string_keyed(node) -> bool:
    content = next((c for c in node.named_children if c.type == "map_content"), None)
    if content is None:
        return False
    entries = [c for c in content.named_children if c.type != "comment"]
    return bool(entries) and all(
        e.type == "binary_operator" and text(e.child_by_field_name("operator")) == "=>"
        and e.child_by_field_name("left").type == "string"
        for e in entries
    )


def _check_args(ctx, node):
    if node is None:
        return
    kind = node.type
    if kind == "binary_operator":
        op = text(node.child_by_field_name("operator"))
        if op == "=":
            yield from _check_args(ctx, node.child_by_field_name("left"))
            yield from _check_args(ctx, node.child_by_field_name("right"))
        elif op == "=>":
            yield from _check_args(ctx, node.child_by_field_name("right"))
        elif op == "|":
            yield from _check_args(ctx, node.child_by_field_name("left"))
            yield from _check_args(ctx, node.child_by_field_name("right"))
        return
    if kind == "map":
        if any(c.type == "struct" for c in node.named_children):
            return
        content = next((c for c in node.named_children if c.type == "map_content"), None)
        if content is None:
            return
        edits = []
        for entry in content.named_children:
            if entry.type == "keywords":
                for pair in entry.named_children:
                    if pair.type != "pair":
                        continue
                    key = pair.child_by_field_name("key")
                    name = keyword_key(pair)
                    if name is not None:
                        edits.append(Edit(key.start_byte, key.end_byte, f'"{name}" => '))
                    yield from _check_args(ctx, pair.child_by_field_name("value"))
            elif entry.type == "binary_operator" and text(entry.child_by_field_name("operator")) == "=>":
                left = entry.child_by_field_name("left")
                if left.type == "atom":
                    name = atom_value(left)
                    edits.append(Edit(left.start_byte, left.end_byte, f'"{name}"'))
                yield from _check_args(ctx, entry.child_by_field_name("right"))
        if edits:
            yield ctx.finding(
                node,
                "args are decoded from JSON with string keys: an atom-keyed pattern never matches",
                fixes=[fix("Use string keys", *edits, safe=True)],
            )
        return
    if kind in ("atom", "quoted_atom"):
        value = atom_value(node)
        if value is not None:
            yield ctx.finding(
                node,
                f"args come back from JSON with strings: {text(node)} never matches; use \"{value}\"",
                fixes=[fix(f'Match "{value}"', replace_node(node, f'"{value}"'), safe=False)],
            )
        return
    if kind == "tuple":
        yield ctx.finding(node, "JSON has no tuples: a tuple pattern inside args never matches")
        return
    if kind == "list":
        for child in node.named_children:
            yield from _check_args(ctx, child)

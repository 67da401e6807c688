"""ECT001 repo-call-in-loop."""

from exhort.findings import Severity
from exhort.rule import Context, Match, Rule, bad, fix, good, replace_node
from exhort.syntax import ancestors, call_arguments, call_name, effective_arguments, is_literal, pipe_source, text

from ._common import binds, is_small_literal_collection, loop_of, repo_name

READS = ("all", "one", "one!", "get", "get!", "get_by", "get_by!", "exists?", "aggregate", "preload", "reload", "reload!")
WRITES = ("insert", "insert!", "update", "update!", "delete", "delete!", "insert_or_update", "insert_or_update!")
QUERIES = ("query", "query!")

RULE = Rule(
    code="ECT001",
    name="repo-call-in-loop",
    category="ecto",
    severity=Severity.WARNING,
    summary="A Repo call inside a loop runs one query per element (N+1)",
    fix_safety="offer",
    workspace=True,
    query=r"""
    ((call target: (dot left: (alias) @module right: (identifier) @function)) @call
      (#any-of? @function "all" "one" "one!" "get" "get!" "get_by" "get_by!" "exists?" "aggregate"
        "preload" "reload" "reload!" "insert" "insert!" "update" "update!" "delete" "delete!"
        "insert_or_update" "insert_or_update!" "query" "query!"))
    """,
    explanation="""
        ## ECT001 repo-call-in-loop

        A Repo call inside the function given to `Enum.map/each/flat_map/filter/reduce/
        map_reduce/find` (or any `Stream` function), or inside the body of a `for`, runs one
        database round trip per element: the N+1 pattern. `Repo.preload/3` accepts "the given
        struct or structs" and loads each association with one query for the whole list
        (`ecto:lib/ecto/repo.ex:1295-1363@v3.14.2`); `Ecto.Query.preload/3` does the same in the
        query; `Repo.insert_all/3` and `Repo.update_all/3` batch writes.

        Reads are warnings. Writes (`insert`, `update`, `delete`, ...) and raw `query` calls are
        information: a loop of writes inside a transaction is sometimes intended.

        Repos are aliases ending in `Repo` and workspace modules that `use Ecto.Repo`. Skipped:
        loops over a literal list or range (`[:a, :b]`, `1..3`), over a list written out element
        by element (`[query1, query2]`) or a module attribute (they run a number of times fixed
        in the source); a call in a clause that matches one literal option key
        (`fn {:tag_ids, ids}, query -> ...`, the usual way to build a query from a map of
        filters: it runs once per key); and loops over `Enum/Stream.chunk_every/chunk_by/
        chunk_while`, where each element is already a batch.

        **Bad**

        ```elixir
        Enum.map(posts, &Repo.preload(&1, :author))
        Enum.map(posts, fn p -> %{p | author: Repo.get!(User, p.author_id)} end)
        ```

        **Good**

        ```elixir
        Repo.preload(posts, :author)
        ```

        **Fix** (offered): `Enum.map(list, &Repo.preload(&1, x))` or its `fn` form becomes
        `Repo.preload(list, x)`. Order is kept, but preload "assumes each association has the
        same nested associations already loaded", so it can lose information
        (`repo.ex:1302-1312`). Other cases need a redesign (a join, a preload, `insert_all`).
    """,
    examples=[
        bad(
            """
            defmodule MyApp.Blog do
              alias MyApp.Repo

              def with_authors(posts) do
                Enum.map(posts, &Repo.preload(&1, :author))  # expect: ECT001
              end
            end
            """,
            fixed="""
            defmodule MyApp.Blog do
              alias MyApp.Repo

              def with_authors(posts) do
                Repo.preload(posts, :author)  # expect: ECT001
              end
            end
            """,
        ),
        bad(
            """
            defmodule MyApp.Blog do
              alias MyApp.Repo

              def with_authors(posts) do
                posts
                |> Enum.map(fn post -> Repo.preload(post, [:author, :tags]) end)  # expect: ECT001
                |> Enum.filter(& &1.published)
              end
            end
            """,
            fixed="""
            defmodule MyApp.Blog do
              alias MyApp.Repo

              def with_authors(posts) do
                posts
                |> Repo.preload([:author, :tags])  # expect: ECT001
                |> Enum.filter(& &1.published)
              end
            end
            """,
            note="piped Enum.map with an fn",
        ),
        bad(
            """
            defmodule MyApp.Blog do
              alias MyApp.{Repo, User}

              def authors(posts) do
                Enum.map(posts, fn p -> %{p | author: Repo.get!(User, p.author_id)} end)  # expect: ECT001
              end

              def counts(users), do: for(u <- users, do: {u.id, MyApp.Repo.aggregate(u, :count)})  # expect: ECT001

              def touch(users) do
                Enum.each(users, fn user ->
                  user |> User.changeset(%{seen: true}) |> Repo.update!()  # expect: ECT001
                end)
              end

              def find(ids), do: ids |> Stream.map(&Repo.get(User, &1)) |> Enum.to_list()  # expect: ECT001
            end
            """,
            note="fn, for, piped writes (information) and Stream",
        ),
        bad(
            """
            defmodule MyApp.Sync do
              def run(ids), do: Enum.map(ids, &MyApp.Storage.get(MyApp.Item, &1))  # expect: ECT001
            end
            """,
            files={"lib/my_app/storage.ex": "defmodule MyApp.Storage do\n  use Ecto.Repo, otp_app: :my_app, adapter: Ecto.Adapters.Postgres\nend\n"},
            note="a Repo found through the workspace index (its name does not end in Repo)",
        ),
        good(
            """
            defmodule MyApp.Blog do
              alias MyApp.Repo
              def with_authors(posts), do: Repo.preload(posts, :author)
              def per_kind, do: Enum.map([:draft, :published], &Repo.aggregate(query(&1), :count))
              def first_three, do: for(i <- 1..3, do: Repo.get(Post, i))
            end
            """,
            note="batched preload, and loops over literal lists or ranges",
        ),
        good(
            """
            defmodule MyApp.Messages do
              import Ecto.Query
              alias MyApp.Repo

              def filter(query, filters) do
                Enum.reduce(filters, query, fn
                  {:tag_ids, tag_ids}, query ->
                    ids = Repo.all(from t in "message_tags", where: t.tag_id in ^tag_ids, select: t.message_id)
                    where(query, [m], m.id in ^ids)

                  {:status, status}, query ->
                    where(query, [m], m.status == ^status)

                  _, query ->
                    query
                end)
              end
            end
            """,
            note="a clause matching one literal option key runs once per key, not once per row",
        ),
        good(
            """
            defmodule MyApp.Export do
              alias MyApp.Repo

              def rows(query) do
                query
                |> Repo.stream(max_rows: 500)
                |> Stream.chunk_every(100)
                |> Stream.flat_map(&Repo.preload(&1, :tags))
              end

              def batches(ids), do: ids |> Enum.chunk_every(50) |> Enum.map(fn batch -> Repo.all(by_ids(batch)) end)
            end
            """,
            note="a loop over chunks: each call already handles a whole batch",
        ),
        good(
            """
            defmodule MyApp.Purge do
              alias MyApp.Repo
              @tables ~w(messages contacts)

              def purge(org_id) do
                ["DELETE FROM logs WHERE org_id = $1", "DELETE FROM events WHERE org_id = $1"]
                |> Enum.each(&Repo.query!(&1, [org_id]))

                queries = [delete_query(org_id), archive_query(org_id)]
                Enum.each(queries, fn query -> Repo.query!(query) end)

                Enum.map(@tables ++ ["users"], fn table -> Repo.query!("SELECT count(*) FROM " <> table) end)
                (@tables ++ ["users"]) |> Enum.each(&Repo.query!("VACUUM " <> &1))
              end
            end
            """,
            note="a list written out in the source (or a module attribute) runs a fixed number of times",
        ),
        good(
            """
            defmodule MyApp.Cache do
              def load(keys), do: Enum.map(keys, &MyApp.Store.get(&1))
              def rows(ids), do: Enum.map(ids, fn id -> Ecto.Repo.get(id) end)
              def one(id), do: Repo.get(Post, id)
            end
            """,
            note="modules that are not Repos, and a Repo call outside any loop",
        ),
        good(
            """
            defmodule MyApp.UsersTest do
              use MyApp.DataCase
              test "deletes", %{users: users} do
                Enum.each(users, fn u -> refute Repo.get(User, u.id) end)
              end
            end
            """,
            path="test/my_app/users_test.exs",
            note="tests and scripts are not production code (catalog 0.4.4)",
        ),
    ],
)


@RULE.check
def check(ctx: Context, match: Match):
    if not ctx.path.is_production_code:
        return  # tests, scripts and migrations: catalog 0.4.4
    call = match.node("call")
    function = text(match.node("function"))
    module = ctx.module_of(call)
    repo = repo_name(ctx, module, text(match.node("module")))
    if repo is None:
        return
    found = loop_of(call)
    if found is None:
        return
    loop, collections = found
    if not collections or all(is_small_literal_collection(c) or _fixed_length(c, loop) for c in collections):
        return
    if any(_chunked(c) for c in collections):
        return  # each element is a batch: `|> Stream.chunk_every(100) |> Stream.flat_map(&Repo.preload(&1, ...))`
    if _keyed_clause(loop, call):
        return  # `Enum.reduce(filters, q, fn {:tag, t}, q -> ... end)`: once per option key
    severity = None
    kind = "query"
    if function in WRITES:
        severity, kind = Severity.INFORMATION, "write"
    elif function in QUERIES:
        severity, kind = Severity.INFORMATION, "raw query"
    loop_name = "for" if call_name(loop) == (None, "for") else ".".join(p for p in call_name(loop) if p)
    fixes = []
    if function == "preload":
        preload_fix = _preload_fix(loop, call, text(match.node("module")))
        if preload_fix is not None:
            fixes.append(preload_fix)
    message = f"{text(match.node('module'))}.{function} inside {loop_name} runs one {kind} per element (N+1)"
    if function == "preload":
        message += "; Repo.preload/2 takes the whole list"
    yield ctx.finding(call, message, fixes=fixes, severity=severity)


def _fixed_length(node, at, depth: int = 0) -> bool:
    """A list written out element by element (`[q1, q2, q3]`), a module attribute, `++` of
    those, or a variable bound once to one: the loop runs a number of times fixed in the
    source, not once per row."""
    if node is None:
        return False
    if node.type == "block" and len(node.named_children) == 1:
        return _fixed_length(node.named_children[0], at, depth)  # `(@tables ++ @meta)`
    if node.type == "list":
        return not any(
            c.type == "binary_operator" and text(c.child_by_field_name("operator")) == "|" for c in node.named_children
        )
    if node.type == "unary_operator" and text(node.child_by_field_name("operator")) == "@":
        return True
    if node.type == "binary_operator" and text(node.child_by_field_name("operator")) == "++":
        return _fixed_length(node.child_by_field_name("left"), at, depth) and _fixed_length(
            node.child_by_field_name("right"), at, depth
        )
    if node.type == "identifier" and depth == 0:
        bound = binds(at, text(node))
        return len(bound) == 1 and _fixed_length(bound[0], at, depth + 1)
    return False


CHUNKERS = frozenset({"chunk_every", "chunk_by", "chunk_while", "chunk"})


def _chunked(collection) -> bool:
    """A collection of batches: the result of Enum/Stream.chunk_every/chunk_by/chunk_while."""
    node = collection
    if node is not None and node.type == "binary_operator" and text(node.child_by_field_name("operator")) == "|>":
        node = node.child_by_field_name("right")
    if node is None or node.type != "call":
        return False
    mod, fun = call_name(node)
    return mod in ("Enum", "Stream") and fun in CHUNKERS


def _keyed_clause(loop, call) -> bool:
    """The Repo call sits in a clause of the loop's fn that matches one literal key, such as
    `{:tags_included, ids}`: over a keyword list or map of options it runs once per key, not
    once per row. (The usual way to build a query from a map of filters.)"""
    if call_name(loop) == (None, "for"):
        return False
    for clause in ancestors(call):
        if clause == loop:
            return False
        if clause.type != "stab_clause" or clause.parent is None or clause.parent.type != "anonymous_function":
            continue
        if clause.parent.parent is None or clause.parent.parent.parent != loop:
            return False  # an fn nested deeper than the loop's own function argument
        left = clause.child_by_field_name("left")
        parameters = [c for c in left.named_children] if left is not None and left.type == "arguments" else []
        if not parameters:
            return False
        element = parameters[0]
        if element.type == "binary_operator" and text(element.child_by_field_name("operator")) == "when":
            return False
        if element.type != "tuple":
            return False
        items = [c for c in element.named_children if c.type != "comment"]
        return len(items) == 2 and items[0].type in ("atom", "string", "quoted_atom") and is_literal(items[0])
    return False


def _preload_fix(loop, call, repo_text):
    """`Enum.map(list, &Repo.preload(&1, x))` / `fn p -> Repo.preload(p, x) end` -> `Repo.preload(list, x)`."""
    if call_name(loop) != ("Enum", "map"):
        return None
    arguments = effective_arguments(loop)
    if len(arguments) != 2:
        return None
    collection, function = arguments
    preload_arguments = call_arguments(call)
    if len(preload_arguments) != 2:
        return None
    subject, associations = preload_arguments
    if function.type == "unary_operator":
        if function.child_by_field_name("operand") != call or text(subject) != "&1":
            return None
    elif function.type == "anonymous_function":
        clauses = [c for c in function.named_children if c.type == "stab_clause"]
        if len(clauses) != 1:
            return None
        left = clauses[0].child_by_field_name("left")
        right = clauses[0].child_by_field_name("right")
        params = [c for c in left.named_children] if left is not None and left.type == "arguments" else []
        body = [c for c in right.named_children if c.type != "comment"] if right is not None else []
        if len(params) != 1 or params[0].type != "identifier" or body != [call] or text(subject) != text(params[0]):
            return None
        if text(params[0]) in text(associations):
            return None
    else:
        return None
    if pipe_source(loop) is not None:
        replacement = f"{repo_text}.preload({text(associations)})"
    else:
        replacement = f"{repo_text}.preload({text(collection)}, {text(associations)})"
    return fix(f"Preload the whole list with {repo_text}.preload/2", replace_node(loop, replacement), safe=False)

"""ECT004 concurrent-index-in-ddl-transaction."""

from exhort.findings import Edit, Severity
from exhort.rule import Context, Match, Rule, bad, fix, good
from exhort.syntax import block_body, function_def, keyword_pairs, module_members, text, trailing_keywords, walk

from ._common import index_call, indentation_at, is_migration_module, module_attribute

RULE = Rule(
    code="ECT004",
    name="concurrent-index-in-ddl-transaction",
    category="ecto",
    severity=Severity.ERROR,
    summary="A concurrent index needs @disable_ddl_transaction (and no migration lock)",
    fix_safety="safe/offer",
    scope="module",
    workspace=True,
    query=r"""
    ((call target: (identifier) @op (arguments . (call target: (identifier) @index))) @call
      (#any-of? @op "create" "create_if_not_exists" "drop" "drop_if_exists")
      (#any-of? @index "index" "unique_index"))
    """,
    explanation="""
        ## ECT004 concurrent-index-in-ddl-transaction

        PostgreSQL refuses `CREATE INDEX CONCURRENTLY` inside a transaction block, and Ecto runs
        every migration in one unless the module sets `@disable_ddl_transaction true`. ecto_sql
        says concurrent index creation "does not work well with the transactions used by Ecto"
        and asks for `@disable_ddl_transaction true` plus either advisory locks or
        `@disable_migration_lock true` (`ecto_sql:lib/ecto/migration.ex:887-927@v3.14.0`); the
        runner only `IO.warn`s when the migration runs (`lib/ecto/migration/runner.ex:367-432`).

        - **error**: `create`/`drop` (and the `_if_not_exists`/`_if_exists` variants) of an
          `index(..., concurrently: true)` without `@disable_ddl_transaction true`;
        - **warning**: without `@disable_migration_lock true`, unless a repo's configuration
          sets `migration_lock: :pg_advisory_lock`.

        **Bad**

        ```elixir
        use Ecto.Migration
        def change, do: create index(:posts, [:slug], concurrently: true)
        ```

        **Good**

        ```elixir
        use Ecto.Migration
        @disable_ddl_transaction true
        @disable_migration_lock true
        def change, do: create index(:posts, [:slug], concurrently: true)
        ```

        **Fix**: insert the attributes after `use Ecto.Migration`. Safe when the migration
        holds only index operations; otherwise offered, since the other statements lose their
        atomicity: consider moving the index into a migration of its own.
    """,
    examples=[
        bad(
            """
            defmodule MyApp.Repo.Migrations.AddSlugIndex do
              use Ecto.Migration

              def change do
                create index(:posts, [:slug], concurrently: true)  # expect: ECT004
                create_if_not_exists unique_index(:posts, [:uuid], concurrently: true)  # expect: ECT004
              end
            end
            """,
            path="priv/repo/migrations/20240101000000_add_slug_index.exs",
            fixed="""
            defmodule MyApp.Repo.Migrations.AddSlugIndex do
              use Ecto.Migration
              @disable_ddl_transaction true
              @disable_migration_lock true

              def change do
                create index(:posts, [:slug], concurrently: true)  # expect: ECT004
                create_if_not_exists unique_index(:posts, [:uuid], concurrently: true)  # expect: ECT004
              end
            end
            """,
        ),
        bad(
            """
            defmodule MyApp.Repo.Migrations.AddColumnAndIndex do
              use Ecto.Migration
              @disable_ddl_transaction true

              def up do
                alter table(:posts), do: add(:slug, :string)
                create index(:posts, [:slug], concurrently: true)  # expect: ECT004
              end

              def down, do: drop_if_exists(index(:posts, [:slug], concurrently: true))  # expect: ECT004
            end
            """,
            path="priv/repo/migrations/20240101000001_add_column_and_index.exs",
            fixed="""
            defmodule MyApp.Repo.Migrations.AddColumnAndIndex do
              use Ecto.Migration
              @disable_migration_lock true
              @disable_ddl_transaction true

              def up do
                alter table(:posts), do: add(:slug, :string)
                create index(:posts, [:slug], concurrently: true)  # expect: ECT004
              end

              def down, do: drop_if_exists(index(:posts, [:slug], concurrently: true))  # expect: ECT004
            end
            """,
            note="migration lock only (a warning); the fix is offered because the migration also alters a table",
        ),
        good(
            """
            defmodule MyApp.Repo.Migrations.AddSlugIndex do
              use Ecto.Migration
              @disable_ddl_transaction true
              @disable_migration_lock true

              def change, do: create(index(:posts, [:slug], concurrently: true))
            end
            """,
            path="priv/repo/migrations/20240101000000_add_slug_index.exs",
            note="both attributes set",
        ),
        good(
            """
            defmodule MyApp.Repo.Migrations.AddSlugIndex do
              use Ecto.Migration
              @disable_ddl_transaction true

              def change do
                create index(:posts, [:slug], concurrently: true)
                create index(:posts, [:title])
              end
            end
            """,
            path="priv/repo/migrations/20240101000000_add_slug_index.exs",
            files={"config/config.exs": "import Config\nconfig :my_app, MyApp.Repo, migration_lock: :pg_advisory_lock\n"},
            note="the repo uses advisory locks (workspace), and plain indexes are fine",
        ),
        good(
            """
            defmodule MyApp.Search do
              def create(index), do: index
              def run, do: create index(:posts, [:slug], concurrently: true)
            end
            """,
            note="not a migration",
        ),
    ],
)


@RULE.check
def check(ctx: Context, match: Match):
    call = match.node("call")
    if not is_migration_module(ctx, call):
        return
    found = index_call(call)
    if found is None or not _concurrent(found[1]):
        return
    module = ctx.module_of(call)
    if module is None:
        return
    ddl_off = _attribute_true(module.node, "disable_ddl_transaction")
    lock_off = _attribute_true(module.node, "disable_migration_lock") or _advisory_lock(ctx)
    if ddl_off and lock_off:
        return
    missing = [name for name, done in (("disable_ddl_transaction", ddl_off), ("disable_migration_lock", lock_off)) if not done]
    fixes = []
    use = module.uses_module("Ecto.Migration")
    first = _first_concurrent(module.node)
    if use is not None and first is not None and first.start_byte == call.start_byte:
        indent = indentation_at(ctx, use.node.start_byte)
        inserted = "".join(f"\n{indent}@{name} true" for name in missing)
        safe = _only_index_operations(module.node)
        fixes.append(
            fix(
                "Add " + " and ".join(f"@{name} true" for name in missing),
                Edit(use.node.end_byte, use.node.end_byte, inserted),
                safe=safe,
            )
        )
    if not ddl_off:
        message = (
            "CREATE INDEX CONCURRENTLY cannot run inside a transaction block; "
            "add @disable_ddl_transaction true" + (" and @disable_migration_lock true" if not lock_off else "")
        )
        yield ctx.finding(call, message, fixes=fixes)
    else:
        yield ctx.finding(
            call,
            "A concurrent index holds the migration lock for the whole build; add @disable_migration_lock true "
            "(or configure migration_lock: :pg_advisory_lock)",
            fixes=fixes,
            severity=Severity.WARNING,
        )


def _concurrent(index) -> bool:
    for key, value, _ in keyword_pairs(trailing_keywords(index)):
        if key == "concurrently" and text(value) == "true":
            return True
    return False


def _attribute_true(module_node, name) -> bool:
    value = module_attribute(module_node, name)
    return value is not None and text(value) == "true"


def _advisory_lock(ctx) -> bool:
    if ctx.workspace is None:
        return False
    for _path, records in ctx.workspace.facts("ecto_repo_config"):
        for _repo, key, value in records:
            if key == "migration_lock" and value == ":pg_advisory_lock":
                return True
    return False


def _first_concurrent(module_node):
    for node in walk(module_node):
        if node.type == "call":
            found = index_call(node)
            if found is not None and _concurrent(found[1]):
                return node
    return None


def _only_index_operations(module_node) -> bool:
    for member in module_members(module_node):
        definition = function_def(member)
        if definition is None or definition.name not in ("change", "up", "down"):
            continue
        body = definition.body
        statements = block_body(body) if body is not None and body.type == "do_block" else [body]
        if any(s is None or s.type != "call" or index_call(s) is None for s in statements):
            return False
    return True


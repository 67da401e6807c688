"""ECT005 foreign-key-without-index."""

from pathlib import PurePosixPath

from exhort.findings import Edit, Severity
from exhort.rule import Context, Match, Rule, bad, fix, good
from exhort.syntax import (
    call_arguments,
    module_members,
    call_name,
    do_block,
    keyword_pairs,
    text,
    trailing_keywords,
    walk,
)

from ._common import (
    in_down,
    index_call,
    index_columns,
    indentation_at,
    is_migration_module,
    name_value,
    primary_key,
    raw_sql_text,
    repo_modules,
)

RULE = Rule(
    code="ECT005",
    name="foreign-key-without-index",
    category="ecto",
    severity=Severity.INFORMATION,
    summary="A foreign key column without an index makes deletes on the parent scan this table",
    fix_safety="safe/offer",
    # Node scope, so a syntax error in another function of the migration (the user typing)
    # does not silence the whole module. What the check reads outside its member (the
    # migration's indexes and raw SQL) is also a workspace fact of this file, and the index
    # generation is part of the cache key: editing another member re-runs it.
    workspace=True,
    query=r"""
    ((call target: (identifier) @op (arguments . (call target: (identifier) @table))) @call
      (#any-of? @op "create" "create_if_not_exists" "alter")
      (#eq? @table "table"))
    """,
    explanation="""
        ## ECT005 foreign-key-without-index

        PostgreSQL does not index the referencing side of a foreign key: declaring one "does
        not automatically create an index on the referencing columns", and every DELETE or
        UPDATE on the referenced table "will require a scan of the referencing table"
        (https://www.postgresql.org/docs/current/ddl-constraints.html#DDL-CONSTRAINTS-FK).
        Joins on the column are slow too. Phoenix's generators emit
        `create index(:table, [:assoc_id])` for every `references`
        (`phoenix:lib/mix/phoenix/schema.ex:535-545@v1.8.12`).

        Flagged: `add :x_id, references(...)` inside `create table` or `alter table` when no
        `create index` / `unique_index` on that table with `:x_id` as its **first** column
        exists in this migration or in any other migration of the workspace. A composite key
        (`references(:t, with: [account_id: :account_id])`) is also served by an index or
        primary key whose leading columns are the key's columns in any order.

        Migrations are the files of a `migrations` folder (`priv/repo/migrations`, a library's
        versioned `lib/my_lib/migrations/v01.ex`) and modules that `use Ecto.Migration`;
        indexes are read from all of them, including raw `CREATE INDEX ... ON table (...)`
        SQL given to `execute`, and from primary keys.

        Not flagged: the first column of the primary key (`primary_key: true`), repos using
        `Ecto.Adapters.MyXQL` (InnoDB indexes foreign keys itself), columns named in a raw
        `execute` statement of the same migration, tables or columns that a later migration of
        the same folder (by file name) drops, removes or renames (also through `for table <-
        @tables do alter table(table) ...`), anything inside `def down` (a rollback restoring
        an older schema), and migrations under `test/` (they build the test database).

        **Bad**

        ```elixir
        create table(:comments) do
          add :post_id, references(:posts, on_delete: :delete_all)
        end
        ```

        **Good**: the same, plus `create index(:comments, [:post_id])`.

        **Fix**: append `create index(:table, [:x_id])` after the table block. Safe for
        `create table`; offered for `alter table`, where the table may be large and
        `concurrently: true` (see ECT004) may be wiser.
    """,
    examples=[
        bad(
            """
            defmodule MyApp.Repo.Migrations.CreateComments do
              use Ecto.Migration

              def change do
                create table(:comments) do
                  add :body, :text
                  add :post_id, references(:posts, on_delete: :delete_all), null: false  # expect: ECT005
                  add :author_id, references(:users)  # expect: ECT005
                  timestamps()
                end

                create index(:comments, [:inserted_at, :post_id])
              end
            end
            """,
            path="priv/repo/migrations/20240101000000_create_comments.exs",
            fixed="""
            defmodule MyApp.Repo.Migrations.CreateComments do
              use Ecto.Migration

              def change do
                create table(:comments) do
                  add :body, :text
                  add :post_id, references(:posts, on_delete: :delete_all), null: false  # expect: ECT005
                  add :author_id, references(:users)  # expect: ECT005
                  timestamps()
                end
                create index(:comments, [:post_id])
                create index(:comments, [:author_id])

                create index(:comments, [:inserted_at, :post_id])
              end
            end
            """,
            note="an index whose first column is another one does not count",
        ),
        bad(
            """
            defmodule MyApp.Repo.Migrations.AddOwner do
              use Ecto.Migration

              def change do
                alter table("posts") do
                  add :owner_id, references("users", type: :binary_id)  # expect: ECT005
                end
              end
            end
            """,
            path="priv/repo/migrations/20240101000001_add_owner.exs",
            note="alter table: the fix is only offered",
        ),
        good(
            """
            defmodule MyApp.Repo.Migrations.CreateComments do
              use Ecto.Migration

              def change do
                create table(:comments) do
                  add :post_id, references(:posts)
                  add :user_id, references(:users)
                end

                create index(:comments, [:post_id])
                create unique_index(:comments, [:user_id, :post_id])
              end
            end
            """,
            path="priv/repo/migrations/20240101000000_create_comments.exs",
            note="indexes in the same migration",
        ),
        good(
            """
            defmodule MyApp.Repo.Migrations.CreateMemberships do
              use Ecto.Migration

              def change do
                create table(:memberships, primary_key: false) do
                  add :group_id, references(:groups), primary_key: true
                  add :tag_id, references(:tags)
                end

                execute "CREATE INDEX memberships_tag_id_idx ON memberships (tag_id)"
              end
            end
            """,
            path="priv/repo/migrations/20240101000000_create_memberships.exs",
            note="the first primary-key column, and a column indexed by raw SQL",
        ),
        good(
            """
            defmodule MyApp.Repo.Migrations.CreateComments do
              use Ecto.Migration

              def change do
                create table(:comments) do
                  add :post_id, references(:posts)
                end
              end
            end
            """,
            path="priv/repo/migrations/20240101000000_create_comments.exs",
            files={
                "priv/repo/migrations/20240101000001_index_comments.exs": (
                    "defmodule MyApp.Repo.Migrations.IndexComments do\n  use Ecto.Migration\n"
                    "  def change, do: create(index(:comments, [:post_id]))\nend\n"
                )
            },
            note="the index is created by another migration (workspace)",
        ),
        good(
            """
            defmodule MyApp.Repo.Migrations.CreateComments do
              use Ecto.Migration

              def change do
                create table(:comments) do
                  add :post_id, references(:posts)
                end
              end
            end
            """,
            path="priv/repo/migrations/20240101000000_create_comments.exs",
            files={"lib/my_app/repo.ex": "defmodule MyApp.Repo do\n  use Ecto.Repo, otp_app: :my_app, adapter: Ecto.Adapters.MyXQL\nend\n"},
            note="MySQL (MyXQL) indexes foreign keys itself",
        ),
        good(
            """
            defmodule MyApp.Repo.Migrations.CreateDrafts do
              use Ecto.Migration

              def change do
                create table(:drafts) do
                  add :post_id, references(:posts)
                end

                alter table(:posts) do
                  add :editor_id, references(:users)
                  add :reviewer_id, references(:users)
                end

                create table(:notes) do
                  add :post_id, references(:posts)
                end
              end
            end
            """,
            path="priv/repo/migrations/20240101000000_create_drafts.exs",
            files={
                "priv/repo/migrations/20240301000000_drop_drafts.exs": (
                    "defmodule MyApp.Repo.Migrations.DropDrafts do\n  use Ecto.Migration\n"
                    "  def up do\n    drop table(:drafts)\n    alter table(:posts) do\n      remove :editor_id\n    end\n  end\n"
                    "  def down, do: raise \"irreversible\"\nend\n"
                ),
                "priv/repo/migrations/20240401000000_rename_drafts.exs": (
                    "defmodule MyApp.Repo.Migrations.RenameNotes do\n  use Ecto.Migration\n"
                    "  def change do\n    rename table(:notes), to: table(:memos)\n"
                    "    rename table(:posts), :reviewer_id, to: :approver_id\n  end\nend\n"
                ),
            },
            note="a later migration drops or renames the table, or removes or renames the column",
        ),
        bad(
            """
            defmodule MyApp.Repo.Migrations.CreateInvites do
              use Ecto.Migration

              def change do
                create table(:invites, primary_key: false) do
                  add :account_id, references(:accounts, type: :binary_id), primary_key: true
                  add :id, :binary_id, primary_key: true
                  add :actor_id, references(:actors, type: :binary_id, with: [account_id: :account_id])  # expect: ECT005
                end
              end
            end
            """,
            path="priv/repo/migrations/20240101000000_create_invites.exs",
            note="a composite key (actor_id, account_id): the primary key (account_id, id) does not cover it",
        ),
        bad(
            """
            defmodule MyLib.Migrations.V01 do
              use Ecto.Migration

              def up(prefix) do
                create_if_not_exists table(:my_lib_pages, prefix: prefix) do
                  add :layout_id, references(:my_lib_layouts, on_delete: :delete_all)  # expect: ECT005
                end
              end
            end
            """,
            path="lib/my_lib/migrations/v01.ex",
            note="a library's versioned migrations under lib/",
        ),
        bad(
            """
            defmodule MyApp.Repo.Migrations.AddGroups do
              use Ecto.Migration

              def change do
                create_groups()

                alter table(:contacts) do
                  add :group_id, references(:groups, on_delete: :nilify_all)  # expect: ECT005
                end
              end

              defp create_groups do
                create table(:groups) do
                  add :org_id, references(:orgs, on_delete: :delete_all), null: false  # expect: ECT005
                end
              end

              defp backfill(kind) do
                case kind do
                  :all ->
              end
            end
            """,
            path="priv/repo/migrations/20240101000000_add_groups.exs",
            note="a table created in a private helper, and a half-typed function elsewhere in the migration",
        ),
        bad(
            """
            defmodule MyApp.Tenants.Schema do
              use Ecto.Migration

              def up(%{prefix: prefix}) do
                create table(:notes, prefix: prefix) do
                  add :author_id, references(:users)  # expect: ECT005
                end
              end

              def up(_opts), do: :ok
            end
            """,
            path="lib/my_app/tenants/schema.ex",
            note="any module that `use Ecto.Migration`, here with a multi-clause up/1",
        ),
        good(
            """
            defmodule MyApp.Repo.Migrations.AddTags do
              use Ecto.Migration

              def change do
                create table(:tags) do
                  add :post_id, references(:posts)
                end

                add_indexes()
              end

              defp add_indexes do
                create index(:tags, [:post_id
              end
            end
            """,
            path="priv/repo/migrations/20240101000000_add_tags.exs",
            note="the index may be in a function still being typed: unknown",
        ),
        good(
            """
            defmodule MyApp.Repo.Migrations.CreateSinks do
              use Ecto.Migration

              def change do
                create table(:sinks, primary_key: false) do
                  add :account_id, references(:accounts, type: :binary_id), primary_key: true
                  add :id, references(:outputs, type: :binary_id, with: [account_id: :account_id]), primary_key: true
                  add :provider_id, references(:providers, type: :binary_id, with: [account_id: :account_id])
                end

                create index(:sinks, [:account_id, :provider_id, :synced_at])
              end
            end
            """,
            path="priv/repo/migrations/20240101000000_create_sinks.exs",
            note="composite keys covered by the primary key (account_id, id) and by an index led by their columns",
        ),
        good(
            """
            defmodule MyApp.Repo.Migrations.CreateReleases do
              use Ecto.Migration

              def change do
                create table(:releases) do
                  add :group_id, references(:groups)
                  add :created_by_id, references(:users)
                end
              end
            end
            """,
            path="priv/repo/migrations/20240101000000_create_releases.exs",
            files={
                "priv/repo/migrations/20240201000000_index_releases.exs": (
                    "defmodule MyApp.Repo.Migrations.IndexReleases do\n  use Ecto.Migration\n"
                    "  @disable_ddl_transaction true\n"
                    "  def up do\n    execute(\"\"\"\n    CREATE INDEX CONCURRENTLY IF NOT EXISTS releases_group_idx\n"
                    "    ON releases USING btree (group_id, inserted_at DESC)\n    \"\"\")\n  end\nend\n"
                ),
                "priv/repo/migrations/20240301000000_drop_created_by.exs": (
                    "defmodule MyApp.Repo.Migrations.DropCreatedBy do\n  use Ecto.Migration\n"
                    "  @tables [:releases, :groups]\n"
                    "  def up do\n    for table <- @tables do\n      alter table(table) do\n"
                    "        remove_if_exists(:created_by_id)\n      end\n    end\n  end\nend\n"
                ),
            },
            note="an index created by raw SQL in another migration; a column a later loop over tables removes",
        ),
        good(
            """
            defmodule MyLib.Migrations.V01 do
              use Ecto.Migration

              def up(prefix) do
                create_if_not_exists table(:my_lib_pages, prefix: prefix) do
                  add :layout_id, references(:my_lib_layouts, on_delete: :delete_all)
                end
              end
            end
            """,
            path="lib/my_lib/migrations/v01.ex",
            files={
                "lib/my_lib/migrations/v02.ex": (
                    "defmodule MyLib.Migrations.V02 do\n  use Ecto.Migration\n"
                    "  def up(prefix), do: create_if_not_exists(index(:my_lib_pages, [:layout_id], prefix: prefix))\nend\n"
                )
            },
            note="a library's later migration version adds the index",
        ),
        good(
            """
            defmodule MyApp.Test.Migrations.AddNotes do
              use Ecto.Migration

              def change do
                create table(:notes) do
                  add :post_id, references(:posts)
                end
              end
            end
            """,
            path="test/support/migrations/20240101000000_add_notes.exs",
            note="migrations that only build the test database",
        ),
        good(
            """
            defmodule MyApp.Repo.Migrations.DropLegacyTags do
              use Ecto.Migration

              def up, do: drop(table(:legacy_tags))

              def down do
                create table(:legacy_tags) do
                  add :post_id, references(:posts)
                end
              end
            end
            """,
            path="priv/repo/migrations/20240101000000_drop_legacy_tags.exs",
            note="`def down` restores an older schema on rollback",
        ),
    ],
)


@RULE.check
def check(ctx: Context, match: Match):
    call = match.node("call")
    if ctx.path.is_test or not is_migration_module(ctx, call):
        return  # migrations kept for the test database say nothing of production's schema
    if _mysql_only(ctx):
        return
    if in_down(call):
        return  # a rollback re-creating an older schema
    op = text(match.node("op"))
    table_call = call_arguments(call)[0]
    table_arguments = call_arguments(table_call)
    table = name_value(table_arguments[0]) if table_arguments else None
    if table is None:
        return
    body = do_block(call)
    if body is None:
        for key, value, _ in keyword_pairs(trailing_keywords(call)):
            if key == "do":
                body = value
    if body is None:
        return
    module = ctx.module_of(call)
    scope = module.node if module is not None else call
    indexes = _indexes_in(ctx, scope) | _workspace_indexes(ctx)
    raw_sql = _raw_sql_in(ctx, scope)
    unfinished = [m.text.decode(errors="replace") for m in module_members(scope) if m.has_error] if module else []
    dropped_later = _dropped_later(ctx)
    if table in dropped_later.get("", ()):
        return  # a later migration drops the whole table
    first_primary_key_seen = False
    missing = []
    for add in walk(body):
        if add.type != "call" or call_name(add) != (None, "add"):
            continue
        arguments = call_arguments(add)
        if len(arguments) < 2:
            continue
        column = name_value(arguments[0])
        options = dict((k, text(v)) for k, v, _ in keyword_pairs(trailing_keywords(add)))
        is_primary = options.get("primary_key") == "true"
        if is_primary and not first_primary_key_seen:
            first_primary_key_seen = True
            continue
        if arguments[1].type != "call" or call_name(arguments[1]) != (None, "references") or column is None:
            continue
        key = (column, *_with_columns(arguments[1]))
        if _covered(indexes, table, key) or column in raw_sql or column in dropped_later.get(table, ()):
            continue
        if any(column in source for source in unfinished):
            continue  # a function still being typed mentions the column: it may be its index
        missing.append((add, column))
    if not missing:
        return
    indent = indentation_at(ctx, call.start_byte)
    for add, column in missing:
        index_text = f"create index({text(table_arguments[0])}, [:{column}])"
        edit = Edit(call.end_byte, call.end_byte, f"\n{indent}{index_text}")
        yield ctx.finding(
            add,
            f"Foreign key {table}.{column} has no index with {column} first; deletes on the referenced "
            "table will scan this one",
            fixes=[fix(f"Add {index_text}", edit, safe=op != "alter")],
        )


def _with_columns(references) -> tuple[str, ...]:
    """The extra local columns of a composite key: `references(:t, with: [account_id: :account_id])`."""
    for key, value, _ in keyword_pairs(trailing_keywords(references)):
        if key == "with":
            return tuple(k for k, _v, _ in keyword_pairs(value) if k)
    return ()


def _covered(indexes, table: str, key: tuple[str, ...]) -> bool:
    """An index (or primary key) of `table` serves lookups by the foreign key: its first column
    is the key's column, or, for a composite key, its leading columns are the key's columns in
    any order (`(account_id, id)` serves `references(..., with: [account_id: :account_id])`)."""
    for indexed_table, columns in indexes:
        if indexed_table != table or not columns:
            continue
        if columns[0] == key[0] or (len(key) > 1 and set(columns[: len(key)]) == set(key)):
            return True
    return False


def _indexes(scope) -> set[tuple[str, tuple[str, ...]]]:
    """(table, columns) of the indexes and primary keys this migration creates."""
    found = set()
    for node in walk(scope):
        if node.type != "call":
            continue
        operation = index_call(node)
        if operation is not None:
            if operation[0] in ("create", "create_if_not_exists"):
                table, columns = index_columns(operation[1])
                if table and columns:
                    found.add((table, columns))
        elif call_name(node) in ((None, "create"), (None, "create_if_not_exists")):
            key = primary_key(node)
            if key is not None:
                found.add(key)
    return found


def _indexes_in(ctx, scope) -> set[tuple[str, tuple[str, ...]]]:
    """_indexes of a migration module, read once per document text (every `create table` of
    the module asks)."""
    key = ("ect005_indexes", scope.start_byte, scope.end_byte)
    found = ctx.document.memo.get(key)
    if found is None:
        found = ctx.document.memo[key] = _indexes(scope)
    return found


def _raw_sql_in(ctx, scope) -> str:
    key = ("ect005_raw_sql", scope.start_byte, scope.end_byte)
    found = ctx.document.memo.get(key)
    if found is None:
        found = ctx.document.memo[key] = _raw_sql(scope)
    return found


def _workspace_indexes(ctx) -> frozenset[tuple[str, tuple[str, ...]]]:
    if ctx.workspace is None:
        return frozenset()
    return ctx.workspace.derived("ect005_workspace_indexes", lambda index: frozenset(
        (table, tuple(columns)) for _path, items in index.facts("migration_indexes") for table, columns in items))


def _drops_by_folder(index) -> dict[PurePosixPath, list[tuple[str, str, str]]]:
    """Every migration's drops and removals ((file name, table, column)), by folder."""
    found: dict[PurePosixPath, list[tuple[str, str, str]]] = {}
    for path, items in index.facts("migration_drops"):
        found.setdefault(PurePosixPath(path).parent, []).extend(items)
    return found


def _dropped_later(ctx) -> dict[str, set[str]]:
    """What migrations after this one, in the same folder, take away: {"": dropped tables,
    table: removed columns}. Migrations run in file-name (timestamp or version) order."""
    if ctx.workspace is None:
        return {}
    this = ctx.path.name
    folder = PurePosixPath(ctx.document.path).parent
    found: dict[str, set[str]] = {}
    for name, table, column in ctx.workspace.derived("ect005_drops_by_folder", _drops_by_folder).get(folder, ()):
        if name > this:
            if column:
                found.setdefault(table, set()).add(column)
            else:
                found.setdefault("", set()).add(table)
    return found


def _raw_sql(scope) -> str:
    return raw_sql_text(scope)


def _mysql_only(ctx) -> bool:
    adapters = {adapter for adapter in repo_modules(ctx).values() if adapter}
    return bool(adapters) and adapters <= {"Ecto.Adapters.MyXQL"}

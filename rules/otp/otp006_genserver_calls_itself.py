"""OTP006 genserver-calls-itself."""

from typing import NamedTuple

from exhort.findings import Related, Severity
from exhort.rule import Context, Match, Rule, bad, good
from exhort.syntax import DEF_KINDS, call_name, named_definition, text, walk

from ._common import CALLBACKS, effective_arguments, keyword_pairs, literal_atom, resolved_call, runs_in_other_process

RULE = Rule(
    code="OTP006",
    requires=(b"GenServer",),  # the query matches `use GenServer` as written
    name="genserver-calls-itself",
    category="otp",
    severity=Severity.ERROR,
    summary="A GenServer callback calls its own server: the process exits with :calling_self",
    scope="module",
    query=r"""
    ((call target: (identifier) @use (arguments . (alias) @mod)) @call (#eq? @use "use") (#eq? @mod "GenServer"))
    """,
    explanation="""
        ## OTP006 genserver-calls-itself

        A GenServer handles one message at a time. When a callback calls its own server (by its
        registered name or `self()`), the call waits for a reply that can never come: `gen`
        detects it and exits with `{:calling_self, ...}`, "process attempted to call itself"
        (`elixir:lib/elixir/test/elixir/gen_server_test.exs:120-137@v1.20.3`,
        `exception.ex:520`). The usual way in is a client function (`def get, do:
        GenServer.call(__MODULE__, :get)`) reused from inside `handle_call/3`.

        Flagged: in a `use GenServer` module registered as `name: __MODULE__` (or a literal
        atom), `GenServer.call` or `GenServer.stop` on `__MODULE__`, that atom or `self()` inside
        `init/1`, `handle_call/3`, `handle_cast/2`, `handle_info/2`, `handle_continue/2` or
        `terminate/2`, directly or one level down through a public function of the module.

        **Bad**

        ```elixir
        def get, do: GenServer.call(__MODULE__, :get)
        def handle_call(:refresh, _from, state), do: {:reply, get(), state}
        ```

        **Good**

        ```elixir
        def handle_call(:refresh, _from, state), do: {:reply, state, state}
        ```

        **Fix**: none (use the state you already hold, or reply later with `GenServer.reply/2`).

        Not flagged: servers started under a name taken from options (`name: opts[:name]`,
        `__MODULE__` may then be another instance), and calls inside closures given to `Task.*`,
        `spawn` or `Task.Supervisor.*`, which run in another process.
    """,
    examples=[
        bad(
            """
            defmodule MyApp.Counter do
              use GenServer

              def start_link(arg), do: GenServer.start_link(__MODULE__, arg, name: __MODULE__)
              def get, do: GenServer.call(__MODULE__, :get)

              def init(n), do: {:ok, n}

              def handle_call(:get, _from, n), do: {:reply, n, n}
              def handle_call(:refresh, _from, state), do: {:reply, get(), state}  # expect: OTP006

              def handle_cast(:stop, state) when is_integer(state) do
                GenServer.stop(MyApp.Counter)  # expect: OTP006
                {:noreply, state}
              end

              def handle_info(:tick, state) do
                value = self() |> GenServer.call(:get)  # expect: OTP006
                {:noreply, value + state}
              end
            end
            """,
            note="through a client function, by module name, and self() in a pipe",
        ),
        bad(
            """
            defmodule MyApp.Cache do
              use GenServer
              @name :cache

              def start_link(_), do: GenServer.start_link(__MODULE__, %{}, name: :cache)
              def fetch(key), do: GenServer.call(:cache, {:fetch, key}, 1_000)

              def handle_continue(:warm, state) do
                Enum.each([:a, :b], fn key -> fetch(key) end)  # expect: OTP006
                {:noreply, state}
              end
            end
            """,
            note="a literal atom name; a closure run in the same process",
        ),
        good(
            """
            defmodule MyApp.Room do
              use GenServer

              def start_link(opts), do: GenServer.start_link(__MODULE__, opts, name: opts[:name])
              def get(server \\\\ __MODULE__), do: GenServer.call(server, :get)

              def handle_call(:other, _from, state), do: {:reply, GenServer.call(__MODULE__, :get), state}
            end
            """,
            note="a name taken from options: __MODULE__ may be another instance",
        ),
        good(
            """
            defmodule MyApp.Counter do
              use GenServer

              def start_link(arg), do: GenServer.start_link(__MODULE__, arg, name: __MODULE__)
              def get, do: GenServer.call(__MODULE__, :get)

              def handle_call(:get, _from, n), do: {:reply, n, n}

              def handle_info(:tick, state) do
                Task.start(fn -> IO.inspect(get()) end)
                spawn(fn -> GenServer.call(__MODULE__, :get) end)
                Task.Supervisor.start_child(MyApp.TaskSup, fn -> get() end)
                GenServer.cast(__MODULE__, :again)
                {:noreply, state}
              end
            end
            """,
            note="closures given to Task.*, spawn or Task.Supervisor.* run in another process; cast is fine",
        ),
    ],
)


class _ServerCall(NamedTuple):
    """`GenServer.call`/`GenServer.stop` in a member, outside closures run by other processes."""

    start: int  # relative to the member's start
    end: int
    module: str  # as written: `GenServer` or an alias of it
    target: tuple[str, str] | None  # the server argument's (type, text); ("self", "") for self()


class _LocalCall(NamedTuple):
    """A call of a function of the module itself (`get()`, `__MODULE__.get()`)."""

    start: int
    end: int
    module: str | None  # None, `__MODULE__` or an alias
    function: str
    arity: int


class _MemberFacts(NamedTuple):
    definition: tuple[str, str, int] | None  # (kind, name, arity)
    has_body: bool
    registered: tuple[tuple[str, str], ...]  # (type, text) of `name:` given to GenServer.start[_link]
    server_calls: tuple[_ServerCall, ...]
    local_calls: tuple[_LocalCall, ...]


def _member_facts(member) -> _MemberFacts:
    """What OTP006 reads from one module member (its bytes alone: see Context.member_facts)."""
    fdef = named_definition(member)  # its parts are read below only where needed
    if fdef is None:
        return _MemberFacts(None, False, (), (), ())
    base = member.start_byte
    is_callback = (fdef.name, fdef.arity) in CALLBACKS
    source = member.text or b""
    if not is_callback and not any(name in source for name in (b".call", b".stop", b".start")):
        # No `GenServer.call/stop/start*` (nor through an alias): nothing to read in it (nor
        # its body: a member with no server call is neither a client nor, here, a callback).
        return _MemberFacts((fdef.kind, fdef.name, fdef.arity), False, (), (), ())
    body = fdef.body
    body_start, body_end = (body.start_byte, body.end_byte) if body is not None else (-1, -1)
    registered, server_calls, local_calls = [], [], []
    for node in walk(fdef.node):  # one walk: a def can hold a long data literal
        if node.type != "call":
            continue
        module_text, function = call_name(node)
        if module_text == "GenServer" and function in ("start_link", "start"):
            arguments = effective_arguments(node)
            for key, value, _ in keyword_pairs(arguments[-1] if arguments else None):
                if key == "name" and (value.type == "alias" or text(value) == "__MODULE__" or
                                      (value.type == "atom" and literal_atom(value))):
                    registered.append((value.type, text(value)))
        if function in DEF_KINDS or function is None or not (body_start <= node.start_byte < body_end):
            continue
        if function in ("call", "stop") and module_text is not None:
            args = effective_arguments(node)
            if args and not runs_in_other_process(node, body):
                first = args[0]
                if first.type == "call" and call_name(first) == (None, "self") and not effective_arguments(first):
                    target = ("self", "")
                else:
                    target = (first.type, text(first))
                server_calls.append(_ServerCall(node.start_byte - base, node.end_byte - base, module_text, target))
        # Only a callback's calls of the module's own functions matter (checked in the fold).
        if is_callback and (module_text is None or not module_text.startswith(":")):
            if not runs_in_other_process(node, body):
                arity = len(effective_arguments(node))
                local_calls.append(_LocalCall(node.start_byte - base, node.end_byte - base, module_text, function, arity))
    return _MemberFacts((fdef.kind, fdef.name, fdef.arity), body is not None,
                        tuple(registered), tuple(server_calls), tuple(local_calls))


def _registered_names(info, facts) -> set[str]:
    names: set[str] = set()
    for _, member in facts:
        for kind, value in member.registered:
            if value == "__MODULE__" or (kind == "alias" and info.resolve_alias(value) == info.name):
                names.update({"__MODULE__", info.name or "__MODULE__"})
            elif kind == "atom":
                names.add(value)
    return names


def _calls_own_server(info, call: _ServerCall, names: set[str]) -> bool:
    if info.resolve_alias(call.module) != "GenServer" or call.target is None:
        return False
    kind, value = call.target
    if kind == "self":
        return True
    if not names:
        return False
    return value in names or (kind == "alias" and info.resolve_alias(value) in names)


def _is_local(info, call: _LocalCall) -> bool:
    return call.module in (None, "__MODULE__") or info.resolve_alias(call.module) == info.name


@RULE.check
def check(ctx: Context, match: Match):
    info = ctx.module_of(match.node("call"))
    if info is None or info.node != match.node("call").parent.parent:
        return
    facts = [(member, found) for member, found in ctx.member_facts(info.node, _member_facts) if found.definition]
    names = _registered_names(info, facts)
    clients = {}
    for member, found in facts:
        kind, name, arity = found.definition
        if (name, arity) in CALLBACKS or kind != "def" or not found.has_body:
            continue
        inner = next((call for call in found.server_calls if _calls_own_server(info, call, names)), None)
        if inner is not None:
            clients.setdefault((name, arity), (member.start_byte + inner.start, member.start_byte + inner.end))
    for member, found in facts:
        kind, name, arity = found.definition
        if (name, arity) not in CALLBACKS or not found.has_body:
            continue
        base = member.start_byte
        callback = f"{name}/{arity}"
        for call in found.server_calls:
            if _calls_own_server(info, call, names):
                yield ctx.finding((base + call.start, base + call.end),
                                  f"{callback} calls its own server: the process exits with :calling_self")
        for call in found.local_calls:
            inner = clients.get((call.function, call.arity))
            if inner is None or not _is_local(info, call):
                continue
            yield ctx.finding(
                (base + call.start, base + call.end),
                f"{callback} calls {call.function}/{call.arity}, which calls this same server: the process exits with :calling_self",
                related=[Related(inner[0], inner[1], f"{call.function}/{call.arity} calls the server here")],
            )

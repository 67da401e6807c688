"""OTP006 genserver-calls-itself."""

from exhort.findings import Related, Severity
from exhort.rule import Context, Match, Rule, bad, good
from exhort.syntax import DEF_KINDS, call_name, function_def, module_members, text, walk

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


def _registered_names(info) -> set[str]:
    names: set[str] = set()
    for defs in info.functions.values():
        for fdef in defs:
            for node in walk(fdef.node):
                if node.type != "call":
                    continue
                if call_name(node) not in (("GenServer", "start_link"), ("GenServer", "start")):
                    continue
                for key, value, _ in keyword_pairs(effective_arguments(node)[-1]):
                    if key != "name":
                        continue
                    if text(value) == "__MODULE__" or (value.type == "alias" and info.resolve_alias(text(value)) == info.name):
                        names.update({"__MODULE__", info.name or "__MODULE__"})
                    elif value.type == "atom" and literal_atom(value):
                        names.add(text(value))
    return names


def _is_self_target(ctx, node, info, names) -> bool:
    if node.type == "call" and call_name(node) == (None, "self") and not effective_arguments(node):
        return True
    if not names:
        return False
    value = text(node)
    if value in names:
        return True
    return node.type == "alias" and info.resolve_alias(value) in names


def _direct_self_calls(ctx, body, info, names):
    for node in walk(body):
        if node.type != "call":
            continue
        name = resolved_call(ctx, node)
        if name not in (("GenServer", "call"), ("GenServer", "stop")):
            continue
        args = effective_arguments(node)
        if not args or not _is_self_target(ctx, args[0], info, names):
            continue
        if runs_in_other_process(node, body):
            continue
        yield node


@RULE.check
def check(ctx: Context, match: Match):
    info = ctx.module_of(match.node("call"))
    if info is None or info.node != match.node("call").parent.parent:
        return
    names = _registered_names(info)
    clients = {}
    for (fname, arity), defs in info.functions.items():
        if (fname, arity) in CALLBACKS:
            continue
        for fdef in defs:
            if fdef.kind != "def" or fdef.body is None:
                continue
            inner = next(iter(_direct_self_calls(ctx, fdef.body, info, names)), None)
            if inner is not None:
                clients.setdefault((fname, arity), inner)
    for member in module_members(info.node):
        fdef = function_def(member)
        if fdef is None or (fdef.name, fdef.arity) not in CALLBACKS or fdef.body is None:
            continue
        callback = f"{fdef.name}/{fdef.arity}"
        for node in _direct_self_calls(ctx, fdef.body, info, names):
            yield ctx.finding(node, f"{callback} calls its own server: the process exits with :calling_self")
        for node in walk(fdef.body):
            if node.type != "call":
                continue
            module_text, function = call_name(node)
            if module_text not in (None, "__MODULE__") and not (module_text and info.resolve_alias(module_text) == info.name):
                continue
            if function in DEF_KINDS or function is None:
                continue
            arity = len(effective_arguments(node))
            inner = clients.get((function, arity))
            if inner is None or runs_in_other_process(node, fdef.body):
                continue
            yield ctx.finding(
                node,
                f"{callback} calls {function}/{arity}, which calls this same server: the process exits with :calling_self",
                related=[Related(inner.start_byte, inner.end_byte, f"{function}/{arity} calls the server here")],
            )

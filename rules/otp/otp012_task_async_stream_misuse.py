"""OTP012 task-async-stream-misuse."""

from exhort.findings import Edit, Severity
from exhort.rule import Context, Match, Rule, bad, fix, good
from exhort.syntax import is_literal, text

from exhort.syntax import pipe_source

from ._common import close_match, effective_arguments, is_keyword_list_literal, literal_atom, literal_int, literal_keywords, pairs, resolved_call

STREAM_KEYS = ("max_concurrency", "ordered", "timeout", "on_timeout", "zip_input_on_exit")
BLOCKS = ("do_block", "body", "else_block", "after_block", "rescue_block", "catch_block")

RULE = Rule(
    code="OTP012",
    name="task-async-stream-misuse",
    category="otp",
    severity=Severity.ERROR,
    summary="Task.async_stream with options as its function, bad options, or a stream never run",
    fix_safety="offer",
    query=r"""
    ((call target: (dot left: (alias) right: (identifier) @fun)) @call (#any-of? @fun "async_stream" "async_stream_nolink"))
    """,
    explanation="""
        ## OTP012 task-async-stream-misuse

        - `async_stream(enumerable, fun, options)` has the guard `is_function(fun, 1)`
          (`elixir:lib/elixir/lib/task.ex:732-735@v1.20.3`): passing the options where the
          function goes, typically `|> Task.async_stream(timeout: :infinity)`, raises
          `FunctionClauseError` (error).
        - `Task.Supervised.validate_stream_options/1` reads only `:max_concurrency`, `:ordered`,
          `:timeout`, `:on_timeout` and `:zip_input_on_exit` (plus `:shutdown` for the
          Task.Supervisor variants, `task/supervisor.ex:344-370`) and raises for bad values
          (`task/supervised.ex:209-235`). A misspelt `max_concurency:` is silently ignored
          (warning); `max_concurrency: 0` or an unknown `on_timeout` raises (error).
        - The result is a lazy stream: "build a stream and then enumerate it… run the stream
          with `Stream.run/1`" (`task.ex:623-640`). A statement that is never enumerated does no
          work at all (warning).

        **Bad**: `list |> Task.async_stream(timeout: :infinity) |> Enum.to_list()`

        **Good**: `list |> Task.async_stream(&work/1, timeout: :timer.minutes(1)) |> Enum.to_list()`

        **Fix** (offer): rename a misspelt option key. The rest: none.

        Not flagged: a variable in the function position (it may hold a function).
    """,
    examples=[
        bad(
            """
            defmodule MyApp.Batch do
              def run(list) do
                list |> Task.async_stream(timeout: :infinity) |> Enum.to_list()  # expect: OTP012
              end

              def crawl(urls) when is_list(urls) do
                urls
                |> Task.async_stream(&fetch/1, max_concurency: 10)  # expect: OTP012
                |> Enum.to_list()
              end

              def sup(urls) do
                Task.Supervisor.async_stream_nolink(MyApp.TaskSup, urls, &fetch/1, max_concurrency: 0, on_timeout: :ignore, shutdown: 1_000)  # expect: OTP012 # expect: OTP012
                |> Stream.run()
              end

              def forgotten(urls) do
                Task.async_stream(urls, &fetch/1)  # expect: OTP012
                :ok
              end
            end
            """,
            note="options as the function, a misspelt key, bad values, a stream never run",
        ),
        bad(
            """
            defmodule MyApp.Batch do
              def crawl(urls), do: urls |> Task.async_stream(&fetch/1, ordred: false) |> Stream.run()  # expect: OTP012
            end
            """,
            fixed="""
            defmodule MyApp.Batch do
              def crawl(urls), do: urls |> Task.async_stream(&fetch/1, ordered: false) |> Stream.run()  # expect: OTP012
            end
            """,
            note="the offered rename",
        ),
        good(
            """
            defmodule MyApp.Batch do
              def run(list, fun) do
                list |> Task.async_stream(fun) |> Enum.to_list()
              end

              def run2(list, opts), do: Task.async_stream(list, &work/1, opts)
              def run3(list), do: for({:ok, x} <- Task.async_stream(list, &work/1, ordered: false, zip_input_on_exit: true), do: x)
              def run4(list), do: Task.async_stream(list, MyApp.Worker, :work, [1], timeout: 10_000)
            end
            """,
            note="a variable function; returned or consumed streams; the MFA form",
        ),
    ],
)


@RULE.check
def check(ctx: Context, match: Match):
    call = match.node("call")
    module, function = resolved_call(ctx, call)
    args = effective_arguments(call)
    if (module, function) == ("Task", "async_stream") and function == "async_stream":
        offset, keys = 0, STREAM_KEYS
    elif module == "Task.Supervisor" and function in ("async_stream", "async_stream_nolink"):
        offset, keys = 1, (*STREAM_KEYS, "shutdown")
    else:
        return
    rest = args[offset:]
    if len(rest) < 1:
        return
    # (a) options in the function position
    if len(rest) == 2 and is_keyword_list_literal(rest[1]):
        yield ctx.finding(rest[1], "Options passed where the function goes: async_stream raises FunctionClauseError (fun must be a 1-arity function)")
        return
    options = None
    if len(rest) == 3 and literal_keywords(rest[2]) is not None:
        options = rest[2]
    elif len(rest) == 5 and literal_keywords(rest[4]) is not None:
        options = rest[4]
    present = [key for key, _, _ in pairs(literal_keywords(options))] if options is not None else []
    for key, value, pair in pairs(literal_keywords(options)) if options is not None else []:
        if key is None:
            continue
        if key not in keys:
            key_node = pair.child_by_field_name("key")
            suggestion = close_match(key, keys)
            fixes = []
            if suggestion and suggestion not in present:
                fixes.append(fix(f"Rename to {suggestion}:", Edit(key_node.start_byte, key_node.end_byte, f"{suggestion}: "), safe=False))
            hint = f"; did you mean :{suggestion}?" if suggestion else ""
            yield ctx.finding(key_node, f"Unknown async_stream option :{key} is silently ignored{hint}", fixes=fixes, severity=Severity.WARNING)
        elif key == "max_concurrency" and is_literal(value):
            number = literal_int(value)
            if number is None or number <= 0:
                yield ctx.finding(value, f"max_concurrency must be a positive integer (got {text(value)}); async_stream raises")
        elif key == "on_timeout" and is_literal(value) and literal_atom(value) not in ("exit", "kill_task"):
            yield ctx.finding(value, f"on_timeout must be :exit or :kill_task (got {text(value)}); async_stream raises")
    # (d) never consumed
    if _discarded(call):
        yield ctx.finding(call, "The stream from async_stream is never run: no task starts until it is enumerated (Stream.run/1, Enum.*)", severity=Severity.WARNING)


def _discarded(call) -> bool:
    parent = call.parent
    if parent is None:
        return False
    if parent.type == "binary_operator" and pipe_source(call) is not None:
        node = parent
        # the call is the last stage of a pipe: treat the whole pipe as the statement
        while node.parent is not None and node.parent.type == "binary_operator" and node.parent.child_by_field_name("left") == node:
            return False
        parent, call = node.parent, node
        if parent is None:
            return False
    if parent.type == "binary_operator" and text(parent.child_by_field_name("operator")) == "=":
        left = parent.child_by_field_name("left")
        return left is not None and left.type == "identifier" and text(left).startswith("_") and parent.child_by_field_name("right") == call
    if parent.type in BLOCKS:
        siblings = [c for c in parent.named_children if c.type not in ("comment", "else_block", "after_block", "rescue_block", "catch_block")]
        return bool(siblings) and siblings[-1] != call
    return False

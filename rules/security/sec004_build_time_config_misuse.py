"""SEC004 build-time-config-misuse."""

from exhort.findings import Severity
from exhort.rule import Context, Match, Rule, bad, fix, good, replace_node
from exhort.syntax import call_arguments, call_name, effective_arguments, string_value, text

from exhort_rules.security._config import config_key, config_target, enclosing_config, is_library, read_at_boot, set_again

ENV_READS = ("get_env", "fetch_env", "fetch_env!")
# config files evaluated at run time (releases.exs is the pre-1.11 runtime configuration)
RUNTIME_FILES = ("config/runtime.exs", "config/releases.exs")
DEV_FILES = ("config/dev.exs", "config/test.exs")
# Applications Mix runs while it builds (asset bundlers): their configuration is build-time by design.
BUILD_TOOL_APPS = frozenset({"esbuild", "tailwind", "dart_sass", "bun"})

RULE = Rule(
    code="SEC004",
    name="build-time-config-misuse",
    category="security",
    severity=Severity.WARNING,
    summary="Environment read at build time, or Mix used in runtime.exs",
    fix_safety="safe",
    workspace=True,  # runtime.exs reading the same variable, and mix.exs declaring a library
    query=r"""
    ((call target: (dot left: (alias) @module right: (identifier) @function)) @call (#match? @module "^Mix(\\.|$)"))
    ((call target: (dot left: (alias) @module right: (identifier) @function)) @call
      (#eq? @module "System") (#any-of? @function "get_env" "fetch_env" "fetch_env!"))
    ((call target: (identifier) @function (arguments . (alias) @module)) @call
      (#any-of? @function "use" "import") (#eq? @module "Mix.Config"))
    ((call target: (identifier) @function) @call (#eq? @function "import_config"))
    """,
    explanation="""
        ## SEC004 build-time-config-misuse

        `config/config.exs` and the files it imports are "evaluated whenever you compile your
        code or whenever you assemble the release", so `System.fetch_env!` there "will be
        computed on the host machine, whenever the release is built"
        (`elixir:lib/mix/lib/mix/tasks/release.ex:608-626@v1.20.3`): the build machine's value
        (or its absence) is baked into the release. `config/runtime.exs` runs when the release
        boots, and it "MUST `import Config`… MUST NOT import any other configuration file via
        `import_config`… MUST NOT access `Mix` in any way" (`release.ex:638-643`); Mix is not
        part of a release.

        - **warning**: `System.get_env/fetch_env/fetch_env!` in `config/config.exs` or
          `config/prod.exs` (and other build-time files), unless `config/runtime.exs` reads the
          same variable again at boot (the build-time value is then overridden), the variable
          belongs to the build itself (`MIX_ENV`, `MIX_DEPS_PATH`, ...), it configures an asset
          bundler Mix runs while building (`:esbuild`, `:tailwind`, `:dart_sass`), or the
          project is a library (`package:` in mix.exs: its config/ never reaches a release).
          `dev.exs` and `test.exs` (and `dev.*.exs`, `test.*.exs`) are development
          configuration and are exempt;
        - **error**: in `config/runtime.exs`, `import_config`, any `Mix.*` call (such as
          `Mix.env()`), `use Mix.Config` or `import Mix.Config`.

        **Bad**

        ```elixir
        # config/prod.exs
        config :my_app, :stripe_key, System.fetch_env!("STRIPE_KEY")
        # config/runtime.exs
        if Mix.env() == :prod do
        ```

        **Good**: the same `config` line in `runtime.exs`; `if config_env() == :prod do`
        (`config_env/0` exists since Elixir 1.11).

        **Fix**: `Mix.env()` → `config_env()` and `Mix.target()` → `config_target()` in
        runtime.exs are safe. Moving an env read to runtime.exs is left to you.
    """,
    examples=[
        bad(
            """
            import Config
            config :my_app, :stripe_key, System.fetch_env!("STRIPE_KEY")  # expect: SEC004
            config :my_app, MyApp.Repo, pool_size: String.to_integer(System.get_env("POOL_SIZE", "10"))  # expect: SEC004
            """,
            path="config/prod.exs",
        ),
        bad(
            """
            import Config

            if Mix.env() == :prod do  # expect: SEC004
              config :my_app, MyApp.Repo, url: System.fetch_env!("DATABASE_URL")
            end

            import_config "#{config_env()}.secret.exs"  # expect: SEC004
            config :my_app, version: Mix.Project.config()[:version]  # expect: SEC004
            """,
            path="config/runtime.exs",
            fixed="""
            import Config

            if config_env() == :prod do  # expect: SEC004
              config :my_app, MyApp.Repo, url: System.fetch_env!("DATABASE_URL")
            end

            import_config "#{config_env()}.secret.exs"  # expect: SEC004
            config :my_app, version: Mix.Project.config()[:version]  # expect: SEC004
            """,
        ),
        bad(
            """
            use Mix.Config  # expect: SEC004
            config :my_app, port: 4000
            """,
            path="config/runtime.exs",
        ),
        good(
            """
            import Config
            config :my_app, MyAppWeb.Endpoint, http: [port: System.get_env("PORT") || 4000]
            """,
            path="config/dev.exs",
            note="dev.exs and test.exs configure development, never a release",
        ),
        good(
            """
            import Config
            config :my_app, MyApp.Auth, client_id: System.get_env("GITHUB_CLIENT_ID")
            config :my_app, MyApp.Repo, pool_size: "POOL_SIZE" |> System.get_env("10") |> String.to_integer()
            config :esbuild, default: [env: %{"NODE_PATH" => System.get_env("NODE_PATH", "deps")}]
            config :my_app, partition: System.get_env("MIX_TEST_PARTITION")
            """,
            path="config/config.exs",
            files={
                "config/runtime.exs": (
                    "import Config\n"
                    "config :my_app, MyApp.Auth, client_id: env!(\"GITHUB_CLIENT_ID\")\n"
                    "config :my_app, MyApp.Repo, pool_size: String.to_integer(System.get_env(\"POOL_SIZE\") || \"10\")\n"
                ),
            },
            note="variables runtime.exs reads again at boot, an asset bundler's build environment, and the build's own MIX_ variables",
        ),
        good(
            """
            import Config
            config :my_lib, MyLib.Repo, url: System.get_env("DATABASE_URL") || "postgres://localhost/my_lib_test"
            """,
            path="config/config.exs",
            files={"mix.exs": "defmodule MyLib.MixProject do\n  use Mix.Project\n  def project, do: [app: :my_lib, version: \"1.0.0\", package: package()]\n  defp package, do: [licenses: [\"MIT\"]]\nend\n"},
            note="a library's configuration serves its own tests; it never reaches a release",
        ),
        good(
            """
            import Config

            if config_env() == :prod do
              config :my_app, MyApp.Repo, url: System.fetch_env!("DATABASE_URL")
            end
            """,
            path="config/runtime.exs",
            note="env reads belong in runtime.exs",
        ),
        good(
            """
            import Config
            config :my_app, env: Mix.env()
            import_config "#{config_env()}.exs"
            """,
            path="config/config.exs",
            note="Mix and import_config are fine in build-time config",
        ),
        good(
            """
            defmodule MyApp.Settings do
              def port, do: System.get_env("PORT")
              def env, do: Mix.env()
            end
            """,
            path="lib/my_app/settings.ex",
            note="not a config file (Elixir itself warns about Mix in lib/)",
        ),
        good(
            """
            import Config
            config :my_app, MyApp.Repo, url: System.fetch_env!("DATABASE_URL")
            """,
            path="config/releases.exs",
            note="releases.exs is run-time configuration too",
        ),
    ],
)


@RULE.check
def check(ctx: Context, match: Match):
    path = ctx.path
    if not path.is_config:
        return
    call = match.node("call")
    function = text(match.node("function"))
    module_node = match.get("module")
    module = text(module_node) if module_node is not None else None
    runtime = path.relative in RUNTIME_FILES
    if path.is_runtime_config:
        if call_name(call)[0] is None:  # use/import/import_config
            if function == "import_config":
                yield ctx.finding(call, "runtime.exs must not import other configuration files (import_config)",
                                  severity=Severity.ERROR)
                return
            if module in ("Mix.Config",):
                yield ctx.finding(call, f"runtime.exs must not access Mix: {function} Mix.Config is not available in a release; use `import Config`",
                                  severity=Severity.ERROR)
            return
        if module == "Mix" or (module or "").startswith("Mix."):
            fixes = []
            if module == "Mix" and function in ("env", "target") and not call_arguments(call):
                replacement = "config_env()" if function == "env" else "config_target()"
                fixes.append(fix(f"Replace with {replacement}", replace_node(call, replacement), safe=True))
            yield ctx.finding(
                call,
                f"runtime.exs must not access Mix ({module}.{function}): Mix is not available in a release",
                fixes=fixes,
                severity=Severity.ERROR,
            )
        return
    if runtime or call_name(call)[0] != "System" or function not in ENV_READS:
        return
    if path.relative in DEV_FILES or path.name.startswith(("dev.", "test.")):
        return  # development and test configuration never reaches a release
    variable = _variable(call)
    if variable is not None and variable.startswith("MIX_"):
        return  # MIX_ENV, MIX_TEST_PARTITION...: variables of the build itself
    config = enclosing_config(call)
    target = config_target(config) if config is not None else None
    if target is not None and target[0] in BUILD_TOOL_APPS:
        return  # asset bundlers run while Mix builds: build-time by design
    if variable is not None and read_at_boot(ctx, variable):
        return  # runtime.exs reads the variable again when the release boots
    key = config_key(call, config) if config is not None else None
    if target is not None and key is not None and set_again(ctx, target[0], target[1], key, any_value=True):
        return  # runtime.exs sets the same key again, so the build-time value is replaced at boot
    if is_library(ctx):
        return  # a library's config/ serves its own tests and development, never a release
    read = f'System.{function}("{variable}")' if variable else f"System.{function}"
    yield ctx.finding(
        call,
        f"{read} in {path.name} runs when the release is built, so the build machine's value is baked in; "
        "move it to config/runtime.exs",
    )


def _variable(call) -> str | None:
    """The variable's name: `System.get_env("NAME")` or `"NAME" |> System.get_env()`."""
    arguments = effective_arguments(call)
    return string_value(arguments[0]) if arguments and arguments[0].type == "string" else None

"""SEC003 hardcoded-secret."""

import re

from exhort.findings import Severity
from exhort.rule import Context, Match, Rule, bad, fix, good, replace_node
from exhort.execution import Runs
from exhort.syntax import ancestors, atom_value, keyword_key, string_value, text

from exhort_rules.security._config import config_target, enclosing_config, set_again

SECRET_KEY = re.compile(r"secret_key_base|client_secret|private_key|access_key|api_?key|password|passwd|secret|token", re.I)
# key suffixes naming something about a secret rather than the secret itself
NOT_A_SECRET_SUFFIX = re.compile(
    r"(_salt|_url|_uri|_path|_file|_endpoint|_type|_field|_name|_header|_param|_env|_var|_length|_ttl|"
    r"_max_age|_expiry|_expires_in|_validity|_label|_placeholder|_message|_format|_key_name|_cookie|"
    r"_route|_mode|_prefix|_strategy|_module|_algorithm|_size|_scope|_scopes|_context|_purpose|_namespace|_kind|"
    r"_topic|_channel|_event|_hint|_link|_docs|_id|_ids)$",
    re.I,
)
# keys naming a key meant to be seen: publishable (Stripe pk_), browser-side, public halves of pairs
PUBLIC_KEY = re.compile(r"^(public|publishable|frontend|client_side|browser|js)_", re.I)
# a URL that carries no user:password@ part names a place, not a credential
PLAIN_URL = re.compile(r"^[a-z][a-z0-9+.-]*://[^/@\s]+(?:[/?#]\S*)?$", re.I)
USER_KEYS = ("username", "user", "login")
HOST_KEYS = ("hostname", "host")
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
PLACEHOLDER = re.compile(
    r"^(?:change[_ -]?me.*|replace[_ -]?me.*|your[_ -].*|<.*>|\$\{.*\}|%\{.*\}|\{\{.*\}\}|x{3,}|\*{3,}|\.{3,}|"
    r"todo|fixme|tbd|example.*|dummy.*|placeholder.*|fake.*|test|testing|secret|password|passwd|token|"
    r"redacted|none|null|nil|undefined|default|n/?a|nothing|empty|blank|unknown|unset|not[_ -]?set|"
    r"not[_ -]?available|disabled|foo|bar|baz|foobar)$",
    re.I,
)
ENV_NAME = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$")
SHAPES = [
    (re.compile(r"^sk_live_[0-9A-Za-z]{10,}$"), "a Stripe live secret key (sk_live_...)"),
    (re.compile(r"^rk_live_[0-9A-Za-z]{10,}$"), "a Stripe restricted key (rk_live_...)"),
    (re.compile(r"^AKIA[0-9A-Z]{16}$"), "an AWS access key id (AKIA...)"),
    (re.compile(r"^gh[pousr]_[0-9A-Za-z]{30,}$"), "a GitHub token (ghp_...)"),
    (re.compile(r"^xox[abposr]-[0-9A-Za-z-]{10,}$"), "a Slack token (xox?-...)"),
    (re.compile(r"^SG\.[0-9A-Za-z_-]{16,}\.[0-9A-Za-z_-]{16,}$"), "a SendGrid API key (SG....)"),
    (re.compile(r"^-----BEGIN (?:RSA |EC |OPENSSH |DSA )?PRIVATE KEY-----"), "a PEM private key"),
]
SHAPE_PREFIX = r"^(sk_live_|rk_live_|AKIA|gh[pousr]_|xox[abposr]-|SG\.|-----BEGIN)"

RULE = Rule(
    code="SEC003",
    name="hardcoded-secret",
    category="security",
    severity=Severity.WARNING,
    summary="A secret written as a string literal in code or build-time configuration",
    fix_safety="offer",
    workspace=True,  # a config.exs value that runtime.exs sets again is not the production secret
    # A key must contain a SECRET_KEY word (its raw text holds the key name, so the regex
    # passes every key the check would accept); the check still applies the exact tests.
    query=r"""
    ((pair key: [(keyword) (quoted_keyword)] @key value: (string) @value) @pair (#match? @key "KEY_RE"))
    ((binary_operator left: [(string) (atom)] @key operator: "=>" right: (string) @value) @pair (#match? @key "KEY_RE"))
    ((unary_operator operator: "@" operand: (call target: (identifier) @key (arguments . (string) @value .))) @pair
      (#match? @key "KEY_RE"))
    ((string (quoted_content) @content) @value (#match? @content "^(sk_live_|rk_live_|AKIA|gh[pousr]_|xox[abposr]-|SG\\.|-----BEGIN)"))
    """.replace("KEY_RE", "(?i)" + SECRET_KEY.pattern),
    explanation="""
        ## SEC003 hardcoded-secret

        A password, API key or token written as a literal ends up in the repository, in every
        clone and in the compiled release. Phoenix's `runtime.exs` template is where production
        "secrets from environment variables" are loaded
        (`phoenix:installer/templates/phx_single/config/runtime.exs.eex:3-7@v1.8.12`). Sobelow's
        `Config.Secrets` checks `secret_key_base` and fuzzy `password`/`secret` keys
        (`sobelow:lib/sobelow/config/secrets.ex:24-56@v0.15.0`).

        Flagged, in `config/config.exs`, `config/prod.exs`, `config/runtime.exs` and `lib/`: a
        non-empty string literal as the value of a key matching
        `secret|password|passwd|api_?key|access_key|private_key|client_secret|token` (keyword
        pairs, map keys, module attributes such as `@api_key "..."`), and literals shaped like
        well-known credentials (`sk_live_...`, `AKIA...`, `ghp_...`, `xoxb-...`, PEM private keys).
        The message names the key or the shape that triggered it.

        Not flagged: `dev.exs`, `test.exs` and `test/` (Phoenix generates literal
        `secret_key_base` values there); a value in `config.exs` (or `prod.exs`) that a file
        evaluated later in production (`runtime.exs`, `releases.exs`, or for `config.exs` also
        `prod.exs` and what it imports) sets again from something that is not a literal:
        production never sees the committed development value; keys ending in `_salt`
        (Phoenix's `signing_salt`) or naming something about a secret (`token_url`,
        `password_field`, `secrets_topic`, `token_type_hint`, `api_key_id`, ...); keys meant to
        be public (`public_*`, `publishable_*`, `frontend_*`) and a value also given to such a
        key; URLs without credentials; local development database credentials (a password
        equal to the username, or for a `localhost` host); empty strings, values with spaces
        (labels, messages), sample data under `example:` / `examples:` keys (OpenApiSpex
        schemas), obvious placeholders (`"changeme"`, `"your-api-key"`, `"${API_KEY}"`, `"NA"`,
        `"nothing"`, an environment variable's name), fixtures, test helpers, Mix and console
        tasks, and any value that is not a literal (such as `System.fetch_env!/1`).

        **Bad**

        ```elixir
        config :my_app, MyApp.Mailer, api_key: "SG.abc123"
        ```

        **Good** (in `config/runtime.exs`)

        ```elixir
        config :my_app, MyApp.Mailer, api_key: System.fetch_env!("SENDGRID_API_KEY")
        ```

        **Fix** (offered, in `runtime.exs` and in function bodies): replace the literal with
        `System.fetch_env!("NAME")`; the deployment must then set that variable.
    """,
    examples=[
        bad(
            """
            import Config
            config :my_app, MyApp.Mailer, api_key: "SG.abc123"  # expect: SEC003
            config :my_app, MyAppWeb.Endpoint, secret_key_base: "q9S1xJ7kZ8mLw3N0vB2cX4tY6uI5oP"  # expect: SEC003
            """,
            path="config/prod.exs",
        ),
        bad(
            """
            import Config
            config :my_app, :stripe, %{"client_secret" => "cs_0123456789abcdef"}  # expect: SEC003
            """,
            path="config/runtime.exs",
            fixed="""
            import Config
            config :my_app, :stripe, %{"client_secret" => System.fetch_env!("CLIENT_SECRET")}  # expect: SEC003
            """,
        ),
        bad(
            """
            defmodule MyApp.Broker do
              @api_key "k-7f3a9c"  # expect: SEC003

              def connect do
                AMQP.Connection.open(host: "rabbit", username: "app", password: "guest")  # expect: SEC003
              end

              def stripe, do: "sk_live_abcdefghijklmnop1234"  # expect: SEC003
            end
            """,
            path="lib/my_app/broker.ex",
        ),
        good(
            """
            import Config
            config :my_app, MyAppWeb.Endpoint, secret_key_base: "dev-only-0123456789abcdef"
            """,
            path="config/dev.exs",
            note="dev.exs and test.exs are excluded",
        ),
        good(
            """
            defmodule MyApp.AuthTest do
              @password "hunter2-secret"
            end
            """,
            path="test/my_app/auth_test.exs",
            note="tests are excluded",
        ),
        good(
            """
            import Config
            config :my_app, MyAppWeb.Endpoint, live_view: [signing_salt: "aB3dE6fG"]
            config :my_app, MyApp.Oauth, token_url: "https://example.com/token", password_field: "pwd"
            config :my_app, MyApp.Mailer, api_key: "", password: "changeme", token: "${API_TOKEN}"
            config :my_app, MyApp.Api, api_key: "SENDGRID_API_KEY", secret: "your-secret-here"
            config :my_app, MyApp.Sms, api_key: "NA", token: "nothing", password: "n/a"
            """,
            path="config/config.exs",
            note="_salt keys, keys about a secret, empty strings, placeholders and env var names",
        ),
        good(
            """
            import Config
            config :my_app, MyAppWeb.Endpoint, secret_key_base: "q9S1xJ7kZ8mLw3N0vB2cX4tY6uI5oP"
            config :my_app, ops_password: "hunter2-ops"
            """,
            path="config/config.exs",
            files={
                "config/runtime.exs": (
                    "import Config\n"
                    "if config_env() == :prod do\n"
                    "  config :my_app, MyAppWeb.Endpoint, [server: true] ++ [secret_key_base: System.fetch_env!(\"SECRET_KEY_BASE\")]\n"
                    "  config :my_app, ops_password: env!(:ops_password)\n"
                    "end\n"
                ),
            },
            note="a config.exs value that runtime.exs sets again at boot never reaches production",
        ),
        good(
            """
            import Config
            config :my_app, MyApp.Analytics, api_key: "phc_x7Yq2", frontend_api_key: "phc_x7Yq2", publishable_key: "pk_live_9f8e"
            config :my_app, MyApp.Docs, secret_generation_link: "https://example.com/docs#secrets", secrets_topic: "hub:secrets"
            config :my_app, MyApp.Repo, hostname: "localhost", username: "postgres", password: "dev-pass"
            config :my_app, MyApp.Cache, username: "cache", password: "cache"
            config :my_app, MyApp.Oauth, token_type_hint: "access_token", token_endpoint: "https://auth.example.com/token"
            """,
            path="config/config.exs",
            note="public keys (and the same value given to one), URLs, topics and hints, local development database credentials",
        ),
        good(
            """
            defmodule MyApp.Dev.AccountPopulation do
              @default_password "Sample1234"
            end

            defmodule MyApp.RepoConfig do
              def local, do: [username: "app", password: "Local1234", hostname: {:system, "DB_HOST", "localhost"}]
            end
            """,
            path="lib/my_app/dev/account_population.ex",
            note="a Dev namespace's sample accounts, and credentials of a database on localhost",
        ),
        good(
            """
            import Config
            config :my_app, MyApp.Mailer, api_key: System.fetch_env!("SENDGRID_API_KEY")
            config :my_app, MyApp.Repo, password: System.get_env("DB_PASSWORD") || raise("missing")
            """,
            path="config/runtime.exs",
            note="values read from the environment",
        ),
        good(
            """
            defmodule MyApp.AccountsFixtures do
              def valid_user_password, do: "hello world!"
              def attrs, do: %{password: "supersecret123"}
            end

            defmodule MyAppWeb.UserForm do
              def labels, do: [password: "Password", token: "Enter the token from your email"]
            end
            """,
            path="lib/my_app/accounts_fixtures.ex",
            note="fixture modules, labels and messages",
        ),
        good(
            """
            defmodule MyAppWeb.Api.Schemas.Login do
              require OpenApiSpex

              @token_context "account_verification"

              OpenApiSpex.schema(%{
                type: :object,
                properties: %{password: %OpenApiSpex.Schema{type: :string}},
                example: %{"email" => "jane@example.org", "password" => "correct-horse-battery"}
              })
            end
            """,
            path="lib/my_app_web/api/schemas/login.ex",
            note="sample values under example:, and keys naming a token's context",
        ),
    ],
)


@RULE.check
def check(ctx: Context, match: Match):
    path = ctx.path
    if not (path.is_lib or path.relative in ("config/config.exs", "config/prod.exs", "config/runtime.exs")):
        return
    if path.is_mix_task or "/fixtures/" in "/" + path.relative:
        return
    value = match.node("value")
    if ctx.runs(value) in (Runs.TEST, Runs.BUILD, Runs.OPERATOR, Runs.MIGRATION):
        return  # test helpers, Mix tasks, console tasks and migrations are not the deployed secrets
    module = ctx.module_of(value)
    if module is not None and module.name and (
        re.search(r"(Fixtures?|Factory|Seeds?)$", module.name) or "Dev" in module.name.split(".")[1:]
    ):
        return  # fixtures, factories, seeds and a `Dev` namespace make known local accounts
    literal = string_value(value)
    if literal is None or not literal.strip() or re.search(r"\s", literal.strip()):
        return
    key_node = match.get("key")
    if key_node is None:
        shape = next((label for pattern, label in SHAPES if pattern.search(literal)), None)
        if shape is None or _has_pair_parent(value):
            return  # a matching key reports it
        yield ctx.finding(value, f"This string looks like {shape}; keep credentials out of the source")
        return
    key = _key_name(key_node, match.node("pair"))
    if key is None or not SECRET_KEY.search(key) or NOT_A_SECRET_SUFFIX.search(key) or PUBLIC_KEY.match(key):
        return
    if _placeholder(literal, key) or _documentation_example(value) or PLAIN_URL.match(literal):
        return
    siblings = _siblings(match.node("pair"))
    if _public_elsewhere(literal, siblings) or _local_default(key, literal, siblings):
        return
    if path.is_config and _overridden(ctx, value, key):
        return  # a later config file (runtime.exs) replaces this value in production
    trigger = SECRET_KEY.search(key).group(0)
    shape = next((label for pattern, label in SHAPES if pattern.search(literal)), None)
    reason = f"key `{key}` (matches \"{trigger.lower()}\")" + (f", value looks like {shape}" if shape else "")
    fixes = []
    attribute = match.node("pair").type == "unary_operator"
    if path.is_runtime_config or (path.is_lib and not attribute and _in_function(value)):
        env = re.sub(r"[^A-Za-z0-9]+", "_", key).strip("_").upper()
        fixes.append(fix(f'Read it with System.fetch_env!("{env}")', replace_node(value, f'System.fetch_env!("{env}")'), safe=False))
    yield ctx.finding(
        value,
        f"Hard-coded secret: {reason} has a string literal; read it from the environment in config/runtime.exs",
        fixes=fixes,
    )


def _key_name(key_node, pair) -> str | None:
    if pair.type == "pair":
        return keyword_key(pair)
    if key_node.type == "string":
        return string_value(key_node)
    if key_node.type == "atom":
        return text(key_node).lstrip(":")
    return text(key_node)


def _placeholder(literal: str, key: str) -> bool:
    value = literal.strip()
    if PLACEHOLDER.match(value) or ENV_NAME.match(value):
        return True
    return value.lower() == key.lower()


def _siblings(pair) -> dict[str, str]:
    """The other literal string entries of the keyword list or map a pair sits in: key -> value."""
    container = pair.parent
    found: dict[str, str] = {}
    if container is None:
        return found
    for entry in container.named_children:
        if entry == pair:
            continue
        if entry.type == "pair":
            key, value = keyword_key(entry), entry.child_by_field_name("value")
        elif entry.type == "binary_operator" and text(entry.child_by_field_name("operator")) == "=>":
            left, value = entry.child_by_field_name("left"), entry.child_by_field_name("right")
            key = string_value(left) if left is not None and left.type == "string" else atom_value(left)
        else:
            continue
        if key and value is not None:
            found[key] = string_value(value) if value.type == "string" else text(value)
    return found


def _public_elsewhere(literal: str, siblings: dict[str, str]) -> bool:
    """The same value is also given to a key meant to be public (`frontend_api_key`)."""
    return any(PUBLIC_KEY.match(key) and value == literal for key, value in siblings.items())


def _local_default(key: str, literal: str, siblings: dict[str, str]) -> bool:
    """`username: "postgres", password: "postgres"`, or credentials for a database on localhost:
    a local development default, not a deployed secret."""
    if not re.search(r"pass", key, re.I):
        return False
    if any(siblings.get(user) == literal for user in USER_KEYS):
        return True
    # `hostname: "localhost"`, or `{:system, "DB_HOST", "localhost"}` defaulting to it
    return any(local in (siblings.get(host) or "") for host in HOST_KEYS for local in LOCAL_HOSTS)


def _overridden(ctx, value, key: str) -> bool:
    config = enclosing_config(value)
    target = config_target(config) if config is not None else None
    return target is not None and set_again(ctx, target[0], target[1], key)


def _documentation_example(value) -> bool:
    """A value inside `example: %{...}` / `examples: [...]` (OpenApiSpex, Absinthe, docs): sample
    data for readers, not a credential the code uses."""
    for parent in ancestors(value):
        key = None
        if parent.type == "pair":
            key = keyword_key(parent)
        elif parent.type == "binary_operator" and text(parent.child_by_field_name("operator")) == "=>":
            left = parent.child_by_field_name("left")
            key = string_value(left) if left is not None and left.type == "string" else atom_value(left)
        if key in ("example", "examples"):
            return True
    return False


def _has_pair_parent(value) -> bool:
    parent = value.parent
    if parent is None:
        return False
    if parent.type == "pair":
        key = keyword_key(parent)
        return key is not None and bool(SECRET_KEY.search(key)) and not NOT_A_SECRET_SUFFIX.search(key)
    return False


def _in_function(node) -> bool:
    from exhort.syntax import enclosing_def

    return enclosing_def(node) is not None

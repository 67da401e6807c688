"""Configuration read twice (issue 14): a config.exs value that a file evaluated later in
production sets again is overridden, so the build-time value is not the production one."""

from __future__ import annotations

from exhort.findings import Severity

from test_security_provenance import findings

CONFIG = """
import Config
config :my_app, MyAppWeb.Endpoint, url: [host: "localhost"], secret_key_base: "q9S1xJ7kZ8mLw3N0vB2cX4tY6uI5oP"
config :my_app, MyApp.Mailer, api_key: "k-7f3a9c12"
"""

RUNTIME = """
import Config
if config_env() == :prod do
  config :my_app, MyAppWeb.Endpoint, [server: true] ++ [secret_key_base: System.fetch_env!("SECRET_KEY_BASE")]
end
"""


def test_sec003_skips_a_secret_that_runtime_exs_sets_again():
    alone = findings("SEC003", CONFIG, path="config/config.exs")
    overridden = findings("SEC003", CONFIG, path="config/config.exs", files={"config/runtime.exs": RUNTIME})
    assert alone == [(2, Severity.WARNING), (3, Severity.WARNING)]
    assert overridden == [(3, Severity.WARNING)]  # the mailer key is not set again


def test_sec003_a_development_file_does_not_override():
    dev = RUNTIME.replace("if config_env() == :prod do", "if true do")
    assert findings("SEC003", CONFIG, path="config/config.exs", files={"config/dev.exs": dev}) == [
        (2, Severity.WARNING), (3, Severity.WARNING)
    ]


def test_sec003_prod_exs_and_what_it_imports_override_config_exs():
    secret = 'import Config\nconfig :my_app, MyAppWeb.Endpoint, secret_key_base: {:system, "SECRET_KEY_BASE"}\n'
    result = findings("SEC003", CONFIG, path="config/config.exs", files={"config/prod.secret.exs": secret})
    assert result == [(3, Severity.WARNING)]


PROD = 'import Config\nconfig :my_app, MyApp.Auth, client_id: System.get_env("GITHUB_CLIENT_ID"), dsn: System.get_env("SENTRY_DSN")\n'


def test_sec004_skips_a_variable_runtime_exs_reads_again():
    runtime = 'import Config\nconfig :my_app, MyApp.Auth, client_id: env_var_to_config!(:github_client_id)\n'
    assert findings("SEC004", PROD, path="config/prod.exs") == [(2, Severity.WARNING), (2, Severity.WARNING)]
    assert findings("SEC004", PROD, path="config/prod.exs", files={"config/runtime.exs": runtime}) == [(2, Severity.WARNING)]


def test_sec004_is_silent_in_development_files_and_libraries():
    assert findings("SEC004", PROD, path="config/dev.exs") == []
    library = {"mix.exs": "defmodule L.MixProject do\n  def project, do: [app: :l, package: [licenses: []]]\nend\n"}
    assert findings("SEC004", PROD, path="config/config.exs", files=library) == []


def test_sec004_skips_a_key_runtime_exs_sets_again_whatever_the_value():
    runtime = "import Config\nconfig :my_app, MyApp.Auth, dsn: nil\n"
    assert findings("SEC004", PROD, path="config/prod.exs", files={"config/runtime.exs": runtime}) == [(2, Severity.WARNING)]

import Config

config :sample_app, ecto_repos: [SampleApp.Repo]

# Oban: the queues the workers in lib/sample_app/workers may use.
config :sample_app, Oban,
  repo: SampleApp.Repo,
  queues: [default: 10, mailers: 5]

import_config "#{config_env()}.exs"

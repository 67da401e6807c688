import Config

config :sample_app, ecto_repos: [SampleApp.Repo]

# Oban: the queues the workers in lib/sample_app/workers may use.
config :sample_app, Oban,
  repo: SampleApp.Repo,
  queues: [default: 10, mailers: 5],
  plugins: [
    {Oban.Plugins.Cron,
     crontab: [
       {"0 2 * * *", SampleApp.LegacyWorker},
       # OBN013: Sunday is 0, not 7
       {"0 9 * * 7", SampleApp.LegacyWorker}
     ]}
  ]

import_config "#{config_env()}.exs"

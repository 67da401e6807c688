import Config

# SEC004: Mix is not available in a release; use config_env()
if Mix.env() == :prod do
  config :sample_app, SampleApp.Repo, url: System.fetch_env!("DATABASE_URL")
end

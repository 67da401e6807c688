import Config

if config_env() == :prod do
  config :sample_app, SampleApp.Repo, url: System.fetch_env!("DATABASE_URL")
end

import Config

# SEC004: read when the release is built, not when it boots
config :sample_app, SampleApp.Mailer, api_key: System.fetch_env!("MAILER_API_KEY")

# SEC003: a literal secret in build-time configuration
config :sample_app, SampleAppWeb.Endpoint, secret_key_base: "c2FtcGxlLXNlY3JldC1rZXktYmFzZS0wMTIzNDU2Nzg5"

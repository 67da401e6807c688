defmodule SampleApp.MixProject do
  use Mix.Project

  # A small Phoenix + Oban application whose code trips every Exhort rule on purpose.
  # Run `exhort check examples/` from the repository root to see them.
  def project do
    [
      app: :sample_app,
      version: "0.1.0",
      elixir: "~> 1.17",
      deps: deps()
    ]
  end

  def application do
    [mod: {SampleApp.Application, []}, extra_applications: [:logger]]
  end

  defp deps do
    [
      {:phoenix, "~> 1.8"},
      {:phoenix_live_view, "~> 1.2"},
      {:ecto_sql, "~> 3.14"},
      {:postgrex, ">= 0.0.0"},
      {:oban, "~> 2.23"},
      {:jason, "~> 1.4"}
    ]
  end
end

defmodule SampleApp.Application do
  @moduledoc false
  use Application

  @impl true
  def start(_type, _args) do
    children = [
      SampleApp.Repo,
      {Oban, Application.fetch_env!(:sample_app, Oban)},
      SampleAppWeb.Endpoint
    ]

    Supervisor.start_link(children, strategy: :one_for_one, name: SampleApp.Supervisor)
  end
end

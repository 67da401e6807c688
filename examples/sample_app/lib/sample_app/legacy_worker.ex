defmodule SampleApp.LegacyWorker do
  @moduledoc "An Oban 1.x style worker: OBN003."
  use Oban.Worker, queue: :default

  @impl true
  def perform(%{"id" => id}, _job) do
    {:ok, id}
  end
end

defmodule SampleApp.Workers.Digest do
  @moduledoc "Oban pitfalls on purpose: OBN001, OBN002, OBN004-OBN007, OBN012."
  use Oban.Worker,
    queue: :reports,
    max_attemps: 3,
    unique: [period: :timer.hours(1), states: [:available, :executing, :scheduled]]

  alias Ecto.Multi

  @impl true
  def perform(%Oban.Job{args: %{user_id: id}}), do: {:snooze, :timer.minutes(5)} |> then(fn _ -> deliver(id) end)
  def perform(%Oban.Job{args: %{"mode" => "multi"}}) do
    Multi.new()
    |> Multi.run(:digest, fn _repo, _ -> {:ok, 1} end)
    |> SampleApp.Repo.transaction()
  end

  def perform(%Oban.Job{args: %{"id" => id}}) do
    case deliver(id) do
      :ok -> :ok
      {:error, :invalid} -> {:discard, :invalid}
      _ -> :error
    end
  end

  defp deliver(_id), do: :ok
end

defmodule SampleApp.Workers.Enqueue do
  @moduledoc "Enqueueing pitfalls: OBN008-OBN011."
  import Ecto.Query
  alias SampleApp.Workers.Digest

  def all(users) do
    Enum.each(users, fn user -> %{id: user.id} |> Digest.new(max_attemps: 3) |> Oban.insert() end)
    Digest.new(%{user: user_struct(), range: {1, 2}})
  end

  def unique_batch(users), do: users |> Enum.map(&Digest.new(%{id: &1.id})) |> Oban.insert_all()

  def cancel do
    SampleApp.Repo.update_all(from(j in Oban.Job, where: j.state == "available"), set: [state: "cancelled"])
  end

  defp user_struct, do: %{}
end

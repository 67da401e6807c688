defmodule SampleAppWeb.SongLive do
  @moduledoc "LiveView pack sample: every LV rule in a module with an inline ~H template."
  use SampleAppWeb, :live_view

  def mount(_params, _session, socket) do
    # LV009: blocking wait and an unguarded subscription
    stats = Task.async(fn -> :stats end) |> Task.await(5000)
    Phoenix.PubSub.subscribe(SampleApp.PubSub, "songs")

    socket =
      socket
      |> stream(:songs, [], limit: -50)
      # LV006: configured after it has been streamed
      |> stream_configure(:songs, dom_id: &"song-#{&1.uuid}")
      # LV010: the map lacks :members
      |> assign_async([:org, :members], fn -> {:ok, %{org: :org}} end)

    # LV008: misspelt mount option
    {:ok, assign(socket, :stats, stats), temporary_assign: [rows: []]}
  end

  # LV008: handle_event must return {:noreply, socket}
  def handle_event("save", _params, socket), do: {:ok, socket}

  # LV007: the stream has limit: -50; LV005: :alerts is never initialised
  def handle_info({:song, song}, socket), do: {:noreply, stream_insert(socket, :songs, song)}
  def handle_info({:alert, alert}, socket), do: {:noreply, stream_insert(socket, :alerts, alert)}

  def render(assigns) do
    # LV011: Map.put on assigns, and a variable used in the template
    assigns = Map.put(assigns, :count, 3)
    title = "Songs"

    ~H"""
    <h1>{title} ({@count})</h1>
    <%!-- LV004: a stream is not enumerable --%>
    <p :if={Enum.empty?(@streams.songs)}>No songs</p>
    <%!-- LV001: no phx-update="stream"; LV002: no id on the item --%>
    <ul id="songs">
      <li :for={{_id, song} <- @streams.songs}>{song.title}</li>
    </ul>
    <%!-- LV003: phx-hook without an id --%>
    <div phx-hook="Chart"></div>
    <.header {assigns} />
    """
  end

  defp header(assigns), do: ~H"<h2>{@count}</h2>"
end

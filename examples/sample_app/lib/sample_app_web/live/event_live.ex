defmodule SampleAppWeb.EventLive do
  @moduledoc """
  LiveView pack sample: a LiveView without render/1, paired with event_live.html.heex.
  The template rules show in the .html.heex file; the Elixir-side rules show here.
  """
  use SampleAppWeb, :live_view

  def mount(_params, _session, socket) do
    if connected?(socket), do: Phoenix.PubSub.subscribe(SampleApp.PubSub, "events")
    # LV009: a timer started on the disconnected render too
    :timer.send_interval(5000, :refresh)
    # LV010: no handle_async/3 receives :refresh_counts
    {:ok, socket |> stream(:events, [], limit: -100) |> start_async(:refresh_counts, fn -> 0 end)}
  end

  # LV006: stream_configure in a callback that runs more than once
  def handle_params(_params, _uri, socket) do
    {:noreply, stream_configure(socket, :notes, dom_id: &"note-#{&1.uuid}")}
  end

  # LV007: the stream has limit: -100
  def handle_info({:event, event}, socket), do: {:noreply, stream_insert(socket, :events, event)}
  # LV008: handle_info must return {:noreply, socket}
  def handle_info(:refresh, socket), do: {:ok, socket}
end

defmodule SampleAppWeb.EventLive do
  @moduledoc "LiveView pack sample: a LiveView without render/1, paired with event_live.html.heex."
  use SampleAppWeb, :live_view

  def mount(_params, _session, socket) do
    if connected?(socket), do: Phoenix.PubSub.subscribe(SampleApp.PubSub, "events")
    {:ok, stream(socket, :events, [])}
  end

  def handle_info({:event, event}, socket), do: {:noreply, stream_insert(socket, :events, event)}
end

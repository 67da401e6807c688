defmodule SampleApp.Otp.ExportLive do
  @moduledoc false
  # OTP010 on purpose: the closure copies the whole socket into the task.
  use Phoenix.LiveView

  @impl true
  def handle_event("export", _params, socket) do
    Task.Supervisor.start_child(SampleApp.TaskSupervisor, fn -> export(socket.assigns.user) end)
    {:noreply, socket}
  end

  @impl true
  def render(assigns), do: ~H"<div></div>"

  defp export(user), do: user
end

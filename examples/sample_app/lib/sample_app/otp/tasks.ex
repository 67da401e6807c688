defmodule SampleApp.Otp.Tasks do
  @moduledoc false
  # OTP008, OTP009, OTP012 on purpose: see rules/otp.

  def register(user) do
    Task.async(fn -> send_welcome(user) end)
    {:ok, user}
  end

  def notify_all(users) do
    Enum.each(users, fn user -> Task.start(fn -> send_welcome(user) end) end)
  end

  def crawl(urls) do
    urls |> Task.async_stream(timeout: 10_000) |> Enum.to_list()
  end

  defp send_welcome(user), do: user
end

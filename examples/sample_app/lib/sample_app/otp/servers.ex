defmodule SampleApp.Otp.Counter do
  @moduledoc false
  # OTP006, OTP007, OTP011, OTP013 on purpose: see rules/otp.
  use GenServer

  def start_link(n), do: GenServer.start_link(__MODULE__, n, name: __MODULE__)
  def get, do: GenServer.call(__MODULE__, :get, :infinity)

  @impl true
  def init(n) do
    Process.monitor(Process.whereis(SampleApp.Repo))
    {:ok, n}
  end

  @impl true
  def handle_call(:get, _from, n), do: {:reply, n, n}
  def handle_call(:double, _from, n), do: {:reply, get() * 2, n}

  @impl true
  def handle_info(:tick, n) do
    Process.sleep(1_000)
    {:noreply, n + 1}
  end
end

defmodule SampleApp.Otp.Orphan do
  @moduledoc false
  # OTP014: nothing starts this module.
  use Agent

  def start_link(_), do: Agent.start_link(fn -> %{} end, name: __MODULE__)
end

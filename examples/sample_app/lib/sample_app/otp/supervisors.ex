defmodule SampleApp.Otp.Supervisors do
  @moduledoc false
  # OTP001, OTP002, OTP003, OTP004, OTP005 on purpose: see rules/otp.
  use Supervisor

  def start_link(arg), do: Supervisor.start_link(__MODULE__, arg, name: __MODULE__)

  @impl true
  def init(:legacy) do
    supervise([worker(SampleApp.Otp.Counter, [0])], strategy: :one_for_one)
  end

  def init(:simple) do
    Supervisor.init([SampleApp.Otp.Counter], strategy: :simple_one_for_one)
  end

  def init(_arg) do
    children = [
      {SampleApp.Otp.Poller, :orders},
      {SampleApp.Otp.Poller, :invoices},
      Supervisor.child_spec({SampleApp.Otp.Counter, 0}, restart: :transeint),
      {DynamicSupervisor, name: SampleApp.Otp.Rooms, strategy: :one_for_all}
    ]

    Supervisor.init(children, max_restart: 10, strategy: :one_for_one)
  end
end

defmodule SampleApp.Otp.Poller do
  @moduledoc false
  use GenServer, restrat: :transient

  def start_link(source), do: GenServer.start_link(__MODULE__, source)

  @impl true
  def init(source), do: {:ok, source}
end

defmodule SampleApp.FirstFive do
  @moduledoc """
  Triggers SEC001, PRF001, STY001 and OTP002 (see the rules catalog), and EXH001 with
  `exhort check --report-unused-suppressions`.
  """
  use Supervisor

  def init(_arg) do
    Supervisor.init([SampleApp.Worker], strategy: :simple_one_for_one)
  end

  def filter(params) do
    status = String.to_atom(params["status"])
    IO.inspect(status, label: "status")
  end

  def any_expired?(expired), do: length(expired) > 0

  # exhort:disable-next-line PRF001
  def none_expired?(expired), do: expired == []
end

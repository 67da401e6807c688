# Left half-written on purpose: `exhort check` says it could not read it (EXH002),
# where the editor stays quiet while the code is being typed.
defmodule SampleApp.Unfinished do
  def total(items) do
    Enum.reduce(items, 0, fn item, sum -> sum + item.amount
  end
end

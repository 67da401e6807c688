"""OBN009 through the engine: each form the catalog names, at the severity it names."""

from __future__ import annotations

from engine_findings import findings
from exhort.findings import Severity

WORKER = "defmodule MyApp.Export do\n  use Oban.Worker\n  def perform(_), do: :ok\nend\n"
STRUCT = "defmodule MyApp.User do\n  defstruct [:id]\nend\n"

CALLER = """
defmodule MyApp.Reports do
  def export(%MyApp.User{} = user, from, to) do
    MyApp.Export.new(%{
      range: {from, to},
      owner: self(),
      token: make_ref(),
      callback: fn -> :ok end,
      capture: &IO.puts/1,
      user: user,
      settings: %MyApp.User{id: 1},
      format: :csv,
      at: DateTime.utc_now()
    })
  end
end
"""


def test_every_catalog_form_at_its_severity():
    files = {"lib/my_app/export.ex": WORKER, "lib/my_app/user.ex": STRUCT, "lib/my_app/reports.ex": CALLER}
    found = [(line, f.severity) for line, f in findings("OBN009", files, "lib/my_app/reports.ex")]
    assert found == [
        (4, Severity.ERROR),  # a tuple
        (5, Severity.ERROR),  # self()
        (6, Severity.ERROR),  # make_ref()
        (7, Severity.ERROR),  # an fn literal
        (8, Severity.ERROR),  # a capture
        (9, Severity.WARNING),  # a variable bound by a struct pattern
        (10, Severity.WARNING),  # a struct literal
        (11, Severity.HINT),  # an atom comes back as a string
        (12, Severity.HINT),  # so does a DateTime
    ]


def test_a_struct_that_derives_an_encoder_is_fine():
    derived = "defmodule MyApp.User do\n  @derive JSON.Encoder\n  defstruct [:id]\nend\n"
    files = {"lib/my_app/export.ex": WORKER, "lib/my_app/user.ex": derived, "lib/my_app/reports.ex": CALLER}
    lines = [line for line, _ in findings("OBN009", files, "lib/my_app/reports.ex")]
    assert 9 not in lines and 10 not in lines

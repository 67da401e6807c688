"""The OTP workspace facts (who starts which process module) read any file without failing."""

from __future__ import annotations

import textwrap

from exhort.document import Document
from exhort.project import ProjectPath
from exhort_rules.otp._common import extract_process_refs


def refs(source: str) -> set[str]:
    document = Document("/app/lib/my_app/sup.ex", textwrap.dedent(source).lstrip("\n"))
    return {module for module, *_ in extract_process_refs(document, ProjectPath("lib/my_app/sup.ex"))}


def test_a_binding_that_refers_to_itself_is_read_without_end():
    found = refs("""
        defmodule MyApp.Sup do
          use Supervisor

          def init(opts) do
            extra = if(extra = opts[:extra], do: extra)
            extra = if opts[:more], do: [MyApp.More | extra], else: extra
            Supervisor.init([MyApp.Worker, extra], strategy: :one_for_one)
          end
        end
        """)
    assert {"MyApp.Worker", "MyApp.More"} <= found

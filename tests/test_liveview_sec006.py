"""SEC006 where users meet it: the CLI over a small project (JSON report, severities)."""

import json

from helpers import exhort, write_project

TEMPLATE = """
<p>{raw(@conn.params["note"])}</p>
<p>{raw(@post.body)}</p>
<p>{raw(@body_html)}</p>
"""


def _findings(tmp_path):
    project = write_project(tmp_path, {"lib/app_web/controllers/post_html/show.html.heex": TEMPLATE})
    result = exhort("check", ".", "--select", "SEC006", "--format", "json", "--exit-zero", "--no-progress",
                    cwd=project, check=True)
    return sorted((f["line"], f["severity"]) for f in json.loads(result.stdout)), result.stdout


def test_request_params_are_a_warning_record_fields_a_hint_whole_assigns_unknown(tmp_path):
    found, report = _findings(tmp_path)
    assert found == [(1, "warning"), (2, "hint")]
    assert "reflected XSS" in report and "stored XSS" in report

"""VS Code (code-server 4.139.1 in headless Chromium) with the .vsix built by
editors/vscode/package.sh, plus a test-only probe extension (vscode_probe/)."""

import json
import os
import shutil
import socket
import subprocess
import time

import pytest

from conftest import CACHE, EDITORS, FIXED, HERE, ROOT, assert_common, describe_failure, read_report

# Every run saves its screenshot under .cache/ (ignored by git); with
# EXHORT_UPDATE_SCREENSHOT=1 it also replaces the README's copy in docs/.
SCREENSHOT = CACHE / "vscode-problems.png"
README_SCREENSHOT = ROOT / "docs" / "vscode-problems.png"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_http(port: int, proc: subprocess.Popen, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"code-server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("code-server never listened")


@pytest.mark.timeout(1800)  # includes the first install (Node 24, code-server build) and npm ci
def test_vscode_diagnostic_problems_hover_and_quick_fix(
    code_server, vsix, editor_env, sample_project, tmp_path_factory
):
    # Everything but the sample project lives outside it, so the Explorer (and the
    # screenshot) shows only the project.
    tmp_path = tmp_path_factory.mktemp("vscode")
    user_data = tmp_path / "user-data"
    extensions = tmp_path / "extensions"
    (user_data / "User").mkdir(parents=True)
    # VS Code's server rebuilds the extension host's environment from a login shell, which
    # drops the venv from PATH: name the executable under test explicitly (the setting's job).
    exhort = shutil.which("exhort", path=editor_env["PATH"])
    settings = {
        "exhort.server.command": exhort,
        # Sent as initializationOptions: the diagnostic must arrive as a warning, not information.
        "exhort.severity": {"PRF001": "warning"},
        "exhort.trace.server": "messages",
        "workbench.startupEditor": "none",
        "workbench.tips.enabled": False,
        "security.workspace.trust.enabled": False,
        "telemetry.telemetryLevel": "off",
        "extensions.autoCheckUpdates": False,
        "extensions.autoUpdate": False,
        "update.mode": "none",
        "chat.disableAIFeatures": True,
        "window.commandCenter": False,
    }
    (user_data / "User" / "settings.json").write_text(json.dumps(settings, indent=2))
    # exhort.server.command is machine-overridable: a remote window (code-server's) reads it
    # from the machine's settings, not the user's.
    (user_data / "Machine").mkdir()
    (user_data / "Machine" / "settings.json").write_text(json.dumps({"exhort.server.command": exhort}))

    # The probe is packaged like any extension, with the vsce the Exhort build installed.
    probe_dir = tmp_path / "probe"
    shutil.copytree(HERE / "vscode_probe", probe_dir)
    vsce = EDITORS / "vscode" / "node_modules" / ".bin" / "vsce"
    probe_vsix = tmp_path / "probe.vsix"
    subprocess.run(
        [str(vsce), "package", "--skip-license", "--allow-missing-repository", "--out", str(probe_vsix)],
        cwd=probe_dir, env=editor_env, check=True, capture_output=True, timeout=120,
    )
    for package in (vsix, probe_vsix):
        subprocess.run(
            [str(code_server), "--user-data-dir", str(user_data), "--extensions-dir", str(extensions),
             "--install-extension", str(package)],
            env=editor_env, check=True, capture_output=True, timeout=120,
        )

    report_path = tmp_path / "probe.json"
    port = free_port()
    env = dict(
        editor_env,
        EXHORT_PROBE_REPORT=str(report_path),
        EXHORT_PROBE_FILE=str(sample_project / "lib" / "sample.ex"),
    )
    server_log = open(tmp_path / "code-server.log", "w")
    proc = subprocess.Popen(
        [str(code_server), "--auth", "none", "--bind-addr", f"127.0.0.1:{port}",
         "--user-data-dir", str(user_data), "--extensions-dir", str(extensions),
         "--disable-telemetry", "--disable-update-check", "--disable-workspace-trust",
         "--disable-getting-started-override", str(sample_project)],
        env=env, stdout=server_log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        wait_for_http(port, proc, 60)
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        driver = subprocess.run(
            ["node", str(HERE / "vscode_driver.js"), f"http://127.0.0.1:{port}/?folder={sample_project}",
             str(report_path), str(tmp_path / "problems.png")],
            env=dict(editor_env, NODE_PATH=str(CACHE / "driver" / "node_modules")),
            capture_output=True, text=True, timeout=240,
        )
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        server_log.close()
    # The probe's report, with the browser driver's output and Exhort's output channel
    # (the protocol trace: exhort.trace.server is "messages") for a failure to show.
    report = read_report(report_path, driver)
    output_logs = sorted(user_data.glob("logs/**/*Exhort*.log"))
    report["exhort_output"] = output_logs[-1].read_text()[-12000:] if output_logs else "(no output channel log)"
    report["messages"] = (tmp_path / "code-server.log").read_text(errors="replace")[-3000:]
    context = describe_failure(report)
    assert driver.returncode == 0, context
    assert driver.stdout.strip(), f"the probe finished before the diagnostic was seen\n{context}"
    problems_row = json.loads(driver.stdout.strip().splitlines()[0])["problemsRow"]
    assert "PRF001" in problems_row, context
    shutil.copyfile(tmp_path / "problems.png", SCREENSHOT)
    if os.environ.get("EXHORT_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(tmp_path / "problems.png", README_SCREENSHOT)

    assert_common(report)
    assert report["languageId"] == "elixir", context
    assert report["extensionActive"] is True, context
    assert report["diagnostic"]["severity"] == "Warning", context  # from initializationOptions
    assert report["severityAfterChange"] == "Error", context  # from workspace/didChangeConfiguration
    assert report["text"] == FIXED, context
    # The code in the Problems panel links to the rule's page (codeDescription.href).
    assert report["diagnostic"]["href"].endswith("/docs/rules/PRF001.md"), context


@pytest.mark.timeout(900)
def test_vsix_builds_reproducibly(vsix, tmp_path):
    """A second build from the same checkout gives the same archive, byte for byte."""
    import hashlib

    again = subprocess.run(
        ["bash", str(EDITORS / "vscode" / "package.sh"), str(tmp_path / "again.vsix")],
        capture_output=True, text=True, timeout=600,
    )
    assert again.returncode == 0, again.stderr[-3000:]
    digest = lambda path: hashlib.sha256(path.read_bytes()).hexdigest()
    assert digest(tmp_path / "again.vsix") == digest(vsix)

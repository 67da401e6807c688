"""An editor that cannot be installed: its tests skip with one line, or fail in CI."""

import pytest

from conftest import run_install


@pytest.fixture
def failing_script(tmp_path):
    (tmp_path / "install-broken.sh").write_text(
        "echo 'Reading package lists...' >&2\necho 'E: need root for: apt-get install emacs-nox' >&2\nexit 100\n"
    )
    return tmp_path


def test_install_failure_skips_with_a_one_line_reason(failing_script, monkeypatch):
    monkeypatch.delenv("EXHORT_REQUIRE_EDITORS", raising=False)
    with pytest.raises(pytest.skip.Exception) as skipped:
        run_install("install-broken.sh", timeout=30, scripts=failing_script)
    reason = str(skipped.value)
    assert "\n" not in reason
    assert "install-broken.sh could not install the editor (100: E: need root for: apt-get install emacs-nox)" in reason
    assert "EXHORT_REQUIRE_EDITORS=1" in reason


def test_install_failure_fails_when_editors_are_required(failing_script, monkeypatch):
    monkeypatch.setenv("EXHORT_REQUIRE_EDITORS", "1")
    with pytest.raises(pytest.fail.Exception) as failed:
        run_install("install-broken.sh", timeout=30, scripts=failing_script)
    assert "Reading package lists..." in str(failed.value) and "need root" in str(failed.value)

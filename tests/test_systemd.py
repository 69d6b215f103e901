"""The unit files pass `systemd-analyze verify` (where systemd's tools exist)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

UNITS = sorted((REPO / "systemd").glob("*.service")) + sorted((REPO / "systemd").glob("*.timer"))


@pytest.fixture
def analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None:
        pytest.skip("systemd-analyze is not installed on this machine")
    return found


def test_units_exist() -> None:
    names = {unit.name for unit in UNITS}
    assert {"rassegna.service", "rassegna-once.service", "rassegna-once.timer"} <= names


def test_units_verify(analyze: str, tmp_path: Path) -> None:
    # The units name the installed program; point them at this checkout's interpreter so
    # verify checks everything else rather than stopping at a missing /opt path.
    program = tmp_path / "rassegna"
    program.write_text(f"#!{sys.executable}\nfrom rassegna.cli import main\nmain()\n")
    program.chmod(0o755)
    for unit in UNITS:
        text = unit.read_text(encoding="utf-8").replace(
            "/opt/rassegna/.venv/bin/rassegna", str(program)
        )
        (tmp_path / unit.name).write_text(text, encoding="utf-8")
    result = subprocess.run(
        [analyze, "verify", "--man=no", *(str(tmp_path / u.name) for u in UNITS)],
        capture_output=True,
        text=True,
        check=False,
    )
    problems = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        # Outside a booted systemd (a container) verify may say so; that is about the host.
        if line.strip() and "System has not been booted" not in line
    ]
    assert result.returncode == 0 and problems == [], "\n".join(problems)


def test_service_runs_the_daemon_hardened() -> None:
    text = (REPO / "systemd" / "rassegna.service").read_text(encoding="utf-8")
    assert "rassegna --config /etc/rassegna/rassegna.toml run" in text
    for setting in ("NoNewPrivileges=yes", "ProtectSystem=strict", "StateDirectory=rassegna"):
        assert setting in text


@pytest.mark.parametrize("unit", ["rassegna.service", "rassegna-once.service"])
def test_security_rating(analyze: str, unit: str) -> None:
    result = subprocess.run(
        [analyze, "security", "--offline=yes", "--threshold=20", str(REPO / "systemd" / unit)],
        capture_output=True,
        text=True,
        check=False,
    )
    # --threshold=20 makes systemd-analyze fail above an exposure of 2.0.
    last = result.stdout.strip().splitlines()[-1]
    assert result.returncode == 0, last
    exposure = float(last.split("exposure level for")[1].split(":")[1].split()[0])
    assert exposure <= 2.0, last


def test_service_is_notify_with_watchdog() -> None:
    text = (REPO / "systemd" / "rassegna.service").read_text(encoding="utf-8")
    assert "Type=notify" in text and "WatchdogSec=" in text and "ExecReload=" in text

"""Installing the checkout as `make run` does prints no warning of setuptools about us.

The install runs for real: the project's own pip (`--python` aims it at a fresh, pip-less
virtual environment) builds an editable wheel of a copy of the checkout in an isolated
build environment, exactly the step of `make run` minus the dependencies.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Everything a fresh clone holds that the build reads; the rest (tests, bench) is not needed.
COPIED = ("pyproject.toml", "README.md", "LICENSE", "rassegna", "ingest", "db", "feeds")
IGNORED = shutil.ignore_patterns("__pycache__", "*.egg-info")


@pytest.mark.slow
def test_editable_install_prints_no_setuptools_warning(tmp_path: Path) -> None:
    checkout = tmp_path / "rassegna"
    checkout.mkdir()
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, checkout / name, ignore=IGNORED)
        else:
            shutil.copy2(source, checkout / name)
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    result = subprocess.run(
        [
            *(sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps"),
            *("--disable-pip-version-check", "-e", str(checkout)),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    for alarming in (
        "BuildBackendWarning",
        "SetuptoolsDeprecationWarning",
        "deprecated",
        "Please be careful with folders",
    ):
        assert alarming not in output, output
    # The install works: the packages resolve to the checkout it was made from.
    found = subprocess.run(
        [str(python), "-c", "import importlib.util as u; print(u.find_spec('ingest').origin)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    )
    assert Path(found.stdout.strip()) == checkout / "ingest" / "__init__.py"

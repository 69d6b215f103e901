"""The W3C Feed Validation Service, offline, on the RSS and Atom files of an output folder.

The validator is `../shared/tools/validate-feed` (beside the repository, in CI too); the
tests that need it skip, saying so, where it is absent. It runs in one child process for
all the files of a call (the script itself, once per file, through `runpy`): importing the
validator costs more than validating a feed, and one process per file made a build's check
slow. Usage from a test:

    problems = validate_output(out_dir, "http://127.0.0.1:8080/")
    assert problems == {}

`validate_output` finds the feeds by their root element (`<rss>`, Atom `<feed>`), not by
name, so whatever a build writes is checked; each is validated with its public URL as
`rel="self"` base and the media type `rassegna serve` sends it with.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from lxml import etree

from rassegna.server import content_type
from tests.conftest import REPO, shared_dir

ATOM_FEED = "{http://www.w3.org/2005/Atom}feed"
FEED_ROOTS = ("rss", ATOM_FEED)

# Runs the shared script once per (path, self URL, media type) line read on stdin and
# answers one JSON line each: [path, exit status, the script's output].
_DRIVER = r"""
import contextlib, io, json, runpy, sys
script = sys.argv[1]
for line in sys.stdin:
    path, url, ctype = json.loads(line)
    sys.argv = [script, path, url] + ([ctype] if ctype else [])
    out = io.StringIO()
    status = 0
    with contextlib.redirect_stdout(out):
        try:
            runpy.run_path(script, run_name="__main__")
        except SystemExit as exc:
            status = exc.code if isinstance(exc.code, int) else 1
    print(json.dumps([path, status, out.getvalue().strip()]), flush=True)
"""


def validator_script() -> Path | None:
    """`../shared/tools/validate-feed` beside the repository (or in `shared_dir()`)."""
    candidates = [REPO.parent / "shared"]
    found = shared_dir()
    if found is not None:
        candidates.append(found)
    for folder in candidates:
        script = folder / "tools" / "validate-feed"
        if script.is_file():
            return script
    return None


def require_validator() -> Path:
    """The validator script, or skip the calling test with the reason."""
    script = validator_script()
    if script is None:
        pytest.skip(
            "the W3C feed validator ../shared/tools/validate-feed is absent: feed validation"
            " skipped"
        )
    return script


@dataclass(frozen=True, slots=True)
class Verdict:
    path: Path
    ok: bool
    report: str  # the script's line: "<file>: <type>: <messages or 'no errors...'>"


def validate_files(files: Sequence[tuple[Path, str, str | None]]) -> list[Verdict]:
    """Validate each (file, self URL, media type or None) at the validator's strictest level."""
    script = require_validator()
    if not files:
        return []
    lines = "".join(json.dumps([str(p), url, ctype]) + "\n" for p, url, ctype in files)
    done = subprocess.run(
        [sys.executable, "-c", _DRIVER, str(script)],
        input=lines,
        capture_output=True,
        text=True,
        timeout=60 + 10 * len(files),
        check=False,
    )
    assert done.returncode == 0, f"the validator crashed:\n{done.stderr}"
    verdicts = []
    for line in done.stdout.splitlines():
        path, status, report = json.loads(line)
        verdicts.append(Verdict(Path(path), status == 0, report))
    assert len(verdicts) == len(files), f"the validator stopped early:\n{done.stderr}"
    return verdicts


def feed_files(out_dir: Path) -> list[Path]:
    """Every RSS and Atom document under `out_dir` (found by root element), sorted."""
    found = []
    for path in sorted(out_dir.rglob("*.xml")):
        try:
            root = etree.parse(str(path)).getroot()
        except etree.XMLSyntaxError:
            found.append(path)  # not even XML: the validator says why
            continue
        if root.tag in FEED_ROOTS:
            found.append(path)
    return found


def validate_output(out_dir: Path, base_url: str) -> dict[str, str]:
    """Validate every feed of a build; {relative path: the validator's report} for each
    file with an error or a warning (empty when all are clean)."""
    base = base_url if base_url.endswith("/") else base_url + "/"
    files = [
        (path, base + path.relative_to(out_dir).as_posix(), content_type(path))
        for path in feed_files(out_dir)
    ]
    return {
        v.path.relative_to(out_dir).as_posix(): v.report for v in validate_files(files) if not v.ok
    }

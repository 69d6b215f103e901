"""The HTML conformance tools, for any test that publishes pages: the Nu HTML Checker
(npm `vnu-jar`, run with the machine's Java) and axe-core (npm `axe-core`) inside Debian's
headless Chromium, driven by npm `playwright-core` (tests/js/axe.mjs).

The npm packages are pinned in tests/js/package-lock.json and installed by `make test`
(`npm ci`); Chromium and Java come from Debian (.ci/run). `missing_tools()` says what is
absent, for a skip reason.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import tempfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

JS_DIR = Path(__file__).resolve().parent / "js"
VNU_JAR = JS_DIR / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"
AXE_SCRIPT = JS_DIR / "axe.mjs"
CHROMIUM = next(
    (found for name in ("chromium", "chromium-browser") if (found := shutil.which(name))), None
)
WIDTHS = (1280, 390)
SCHEMES = ("light", "dark")


def missing_tools() -> str | None:
    """Why the conformance tools cannot run here, or None when they all can."""
    if shutil.which("java") is None:
        return "Java is not installed (Debian package default-jre-headless; .ci/run installs it)"
    if shutil.which("node") is None:
        return "Node.js is not installed (Debian packages nodejs and npm)"
    if not VNU_JAR.exists() or not (JS_DIR / "node_modules" / "playwright-core").exists():
        return "the npm packages of tests/js are not installed (make test runs npm ci there)"
    if CHROMIUM is None:
        return "Chromium is not installed (Debian package chromium; .ci/run installs it)"
    return None


@dataclass(frozen=True, slots=True)
class VnuMessage:
    """One error of the Nu HTML Checker."""

    file: str
    line: int
    column: int
    message: str
    extract: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message} [{self.extract.strip()}]"


def _require_tools() -> None:
    reason = missing_tools()
    if reason is not None:
        raise RuntimeError(f"cannot run the conformance tools: {reason}")


def vnu_errors(paths: Iterable[Path]) -> list[VnuMessage]:
    """Every error the Nu HTML Checker finds in the HTML files `paths` (one Java run)."""
    files = [str(p) for p in paths]
    if not files:
        return []
    _require_tools()
    done = subprocess.run(
        ["java", "-jar", str(VNU_JAR), "--errors-only", "--format", "json", *files],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    # The report goes to stderr; exit status 1 only means "errors found".
    try:
        report = json.loads(done.stderr)
    except json.JSONDecodeError as exc:
        raise RuntimeError(f"vnu gave no JSON report: {done.stderr[-2000:]}") from exc
    return [
        VnuMessage(
            file=m.get("url", "").removeprefix("file:"),
            line=m.get("lastLine", m.get("firstLine", 0)),
            column=m.get("firstColumn", 0),
            message=m.get("message", ""),
            extract=m.get("extract", ""),
        )
        for m in report.get("messages", [])
        if m.get("type") == "error" or m.get("subType") == "fatal"
    ]


def vnu_errors_in(documents: dict[str, str]) -> list[VnuMessage]:
    """`vnu_errors` on HTML given as text (a rendered DOM, say), by name."""
    with tempfile.TemporaryDirectory(prefix="rassegna-vnu-") as tmp:
        names = {}
        for n, (name, text) in enumerate(documents.items()):
            path = Path(tmp) / f"{n}.html"
            path.write_text(text, encoding="utf-8")
            names[str(path)] = name
        paths = [Path(p) for p in names]
        return [
            VnuMessage(names.get(m.file, m.file), m.line, m.column, m.message, m.extract)
            for m in vnu_errors(paths)
        ]


@dataclass(frozen=True, slots=True)
class AxeResult:
    """axe-core's verdict on one page at one width and colour scheme."""

    url: str
    width: int
    scheme: str
    status: int
    violations: list[dict[str, object]]
    screenshot: Path | None = None
    html: str | None = field(default=None, repr=False)

    def describe(self) -> list[str]:
        """One line per violating node: rule, impact, element and axe's summary."""
        lines = []
        for violation in self.violations:
            nodes = violation.get("nodes")
            for node in nodes if isinstance(nodes, list) else []:
                summary = " ".join(str(node.get("summary", "")).split())
                lines.append(
                    f"{self.url} @{self.width}px {self.scheme}: {violation.get('id')} "
                    f"({violation.get('impact')}) {node.get('html')} — {summary}"
                )
        return lines


def axe_check(
    urls: Sequence[str],
    *,
    widths: Sequence[int] = WIDTHS,
    schemes: Sequence[str] = SCHEMES,
    screenshots: Path | None = None,
    dom: bool = False,
) -> list[AxeResult]:
    """Load each URL in headless Chromium at each width and colour scheme, run axe-core at
    WCAG 2.1 AA, and save a full-page screenshot per view in `screenshots` (named after the
    URL's path, the width and the scheme). With `dom`, each URL's first view also gives
    its rendered document (after XSLT, for a feed) as `html`."""
    _require_tools()
    assert CHROMIUM is not None  # for mypy: _require_tools checked it
    command = [
        "node",
        str(AXE_SCRIPT),
        "--chromium",
        CHROMIUM,
        "--widths",
        ",".join(str(w) for w in widths),
        "--schemes",
        ",".join(schemes),
    ]
    if screenshots is not None:
        screenshots.mkdir(parents=True, exist_ok=True)
        command += ["--shots", str(screenshots)]
    if dom:
        command.append("--dom")
    done = subprocess.run(
        [*command, *urls], capture_output=True, text=True, timeout=600, check=False, cwd=JS_DIR
    )
    if done.returncode != 0:
        raise RuntimeError(f"axe.mjs failed ({done.returncode}): {done.stderr[-3000:]}")
    return [
        AxeResult(
            url=r["url"],
            width=r["width"],
            scheme=r["scheme"],
            status=r["status"],
            violations=r["violations"],
            screenshot=Path(r["screenshot"]) if r.get("screenshot") else None,
            html=r.get("html"),
        )
        for r in json.loads(done.stdout)["results"]
    ]


def axe_violations(
    urls: Sequence[str],
    *,
    widths: Sequence[int] = WIDTHS,
    schemes: Sequence[str] = SCHEMES,
    screenshots: Path | None = None,
) -> list[str]:
    """Every WCAG 2.1 AA violation axe-core finds on `urls`, one line per element
    (see `axe_check`); an empty list means none."""
    results = axe_check(urls, widths=widths, schemes=schemes, screenshots=screenshots)
    return [line for result in results for line in result.describe()]


def png_summary(data: bytes) -> tuple[int, int, int]:
    """Width, height and the number of distinct pixel rows of an 8-bit RGB(A) PNG.

    Rows are compared after undoing nothing but the per-row filter byte: identical rows
    under the same filter are identical pixels, which is all a "not blank" check needs.
    """
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    offset, idat, width, height, channels = 8, b"", 0, 0, 0
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset : offset + 8])
        chunk = data[offset + 8 : offset + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", chunk[:10])
            assert depth == 8 and color in (2, 6), f"unexpected PNG format {depth}/{color}"
            channels = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += chunk
        offset += 12 + length
    raw = zlib.decompress(idat)
    stride = 1 + width * channels
    assert len(raw) == stride * height
    rows = {raw[i * stride : (i + 1) * stride] for i in range(height)}
    return width, height, len(rows)

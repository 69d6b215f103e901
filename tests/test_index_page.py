"""`index.html` in a real browser: headless Chromium screenshots it at phone and desktop
sizes; the PNGs must have the asked size and show a page, not a blank.

The PNG is read with a few lines of pure Python (size from IHDR, pixels from the inflated
IDAT stream), so no imaging library is needed.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from db.store import Store
from tests.published import publish

CHROMIUM = next(
    (found for name in ("chromium", "chromium-browser") if (found := shutil.which(name))), None
)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Chromium is not installed (Debian package chromium; .ci/run installs it)",
)
SIZES = {"phone": (390, 844), "desktop": (1280, 900)}


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


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    assert CHROMIUM is not None
    tmp = tmp_path_factory.mktemp("index")
    store = Store.open(f"sqlite:///{tmp / 'r.db'}")
    try:
        publish(store, tmp / "public", "http://127.0.0.1:8080/")
    finally:
        store.close()
    shots = {}
    for name, (width, height) in SIZES.items():
        png = tmp / f"{name}.png"
        subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                f"--user-data-dir={tmp / f'profile-{name}'}",
                f"--screenshot={png}",
                f"--window-size={width},{height}",
                (tmp / "public" / "index.html").as_uri(),
            ],
            capture_output=True,
            timeout=120,
            check=False,
        )
        shots[name] = png
    return shots


@pytest.mark.parametrize("name", sorted(SIZES))
def test_index_screenshot_has_the_size_and_is_not_blank(
    screenshots: dict[str, Path], name: str
) -> None:
    png = screenshots[name]
    assert png.exists(), f"Chromium wrote no screenshot for {name}"
    width, height, distinct_rows = png_summary(png.read_bytes())
    assert (width, height) == SIZES[name]
    # A blank page has a handful of distinct rows; text and lists give hundreds.
    assert distinct_rows > height // 4, f"{name}: only {distinct_rows} distinct rows"

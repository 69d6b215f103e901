"""`docs/nginx.conf` in a real nginx (Debian package) on a free loopback port, serving a
real build: content types with charset, gzip_static twins, 304s, Cache-Control, dotfiles."""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from db.store import Store
from tests.conftest import REPO, free_port, wait_for_http
from tests.published import publish

NGINX = shutil.which("nginx") or next(
    (p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None
)
pytestmark = pytest.mark.skipif(
    NGINX is None, reason="nginx is not installed (Debian package nginx-light; .ci/run installs it)"
)


def _temp_paths(prefix: Path) -> str:
    """Temp path directives for the modules this nginx has (unknown ones are errors)."""
    assert NGINX is not None
    version = subprocess.run([NGINX, "-V"], capture_output=True, text=True).stderr
    lines = [f"client_body_temp_path {prefix}/body;"]
    for module in ("proxy", "fastcgi", "uwsgi", "scgi"):
        if f"--http-{module}-temp-path" in version:
            lines.append(f"{module}_temp_path {prefix}/{module};")
    return "\n    ".join(lines)


@pytest.fixture
def nginx(tmp_path: Path, store: Store) -> Iterator[tuple[str, Path]]:
    assert NGINX is not None
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    out = tmp_path / "public"
    publish(store, out, base)
    (out / ".segreto").write_text("no", encoding="utf-8")
    prefix = tmp_path / "nginx"
    prefix.mkdir()

    site_conf = (REPO / "docs" / "nginx.conf").read_text(encoding="utf-8")
    replacements = {
        "    listen 80;\n": f"    listen 127.0.0.1:{port};\n",
        "    listen [::]:80;\n": "",
        "root /var/lib/rassegna/public;": f"root {out};",
    }
    for old, new in replacements.items():
        assert old in site_conf, f"docs/nginx.conf no longer has {old!r}"
        site_conf = site_conf.replace(old, new)
    (prefix / "site.conf").write_text(site_conf, encoding="utf-8")
    # As root, nginx would hand the workers to "nobody", who cannot enter pytest's 0700
    # temp folders; the test keeps them as root instead.
    user = "user root;" if os.geteuid() == 0 else ""
    (prefix / "nginx.conf").write_text(
        f"""
{user}
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log;
events {{ worker_connections 64; }}
http {{
    include /etc/nginx/mime.types;
    access_log {prefix}/access.log;
    {_temp_paths(prefix)}
    include {prefix}/site.conf;
}}
""",
        encoding="utf-8",
    )
    check = subprocess.run(
        [
            NGINX,
            "-t",
            "-p",
            str(prefix),
            "-c",
            str(prefix / "nginx.conf"),
            "-e",
            str(prefix / "error.log"),
        ],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stderr
    process = subprocess.Popen(
        [
            NGINX,
            "-p",
            str(prefix),
            "-c",
            str(prefix / "nginx.conf"),
            "-e",
            str(prefix / "error.log"),
            "-g",
            "daemon off;",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_http(base, timeout=15)
        yield base, out
    finally:
        process.terminate()
        process.wait(10)


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("rss.xml", "application/rss+xml; charset=utf-8"),
        ("atom.xml", "application/atom+xml; charset=utf-8"),
        ("feed.json", "application/feed+json; charset=utf-8"),
        ("categoria/cronaca/rss.xml", "application/rss+xml; charset=utf-8"),
        ("categoria/cronaca/atom.xml", "application/atom+xml; charset=utf-8"),
        ("fonte/gazzetta-del-lago/feed.json", "application/feed+json; charset=utf-8"),
        ("archivio/1/atom.xml", "application/atom+xml; charset=utf-8"),
        ("opml.xml", "text/x-opml; charset=utf-8"),
        ("", "text/html; charset=utf-8"),
    ],
)
def test_content_types(nginx: tuple[str, Path], path: str, content_type: str) -> None:
    base, out = nginx
    response = httpx.get(base + path, headers={"Accept-Encoding": "identity"})
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    assert response.content == (out / (path or "index.html")).read_bytes()
    assert response.headers["cache-control"] == "max-age=600"


def test_gzip_static_serves_the_twin(nginx: tuple[str, Path]) -> None:
    base, out = nginx
    with (
        httpx.Client(headers={"Accept-Encoding": "gzip"}) as client,
        client.stream("GET", base + "atom.xml") as response,
    ):
        raw = b"".join(response.iter_raw())
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["vary"] == "Accept-Encoding"
    assert response.headers["content-type"] == "application/atom+xml; charset=utf-8"
    assert raw == (out / "atom.xml.gz").read_bytes()
    assert gzip.decompress(raw) == (out / "atom.xml").read_bytes()
    plain = httpx.get(base + "atom.xml", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    # The build gives the twin its file's mtime: one Last-Modified for both.
    assert plain.headers["last-modified"] == response.headers["last-modified"]


@pytest.mark.parametrize("encoding", ["identity", "gzip"])
def test_conditional_get_answers_304(nginx: tuple[str, Path], encoding: str) -> None:
    base, _ = nginx
    with httpx.Client(headers={"Accept-Encoding": encoding}) as client:
        first = client.get(base + "categoria/cronaca/feed.json")
        assert first.status_code == 200
        etag, modified = first.headers["etag"], first.headers["last-modified"]
        assert (
            client.get(
                base + "categoria/cronaca/feed.json", headers={"If-None-Match": etag}
            ).status_code
            == 304
        )
        assert (
            client.get(
                base + "categoria/cronaca/feed.json", headers={"If-Modified-Since": modified}
            ).status_code
            == 304
        )
        assert (
            client.get(
                base + "categoria/cronaca/feed.json", headers={"If-None-Match": '"altro"'}
            ).status_code
            == 200
        )


def test_dotfiles_are_not_served(nginx: tuple[str, Path]) -> None:
    base, out = nginx
    assert (out / ".rassegna-build.json").exists()
    assert httpx.get(base + ".rassegna-build.json").status_code == 404
    assert httpx.get(base + ".segreto").status_code == 404

"""`docs/nginx.conf` in a real nginx (Debian package) on a free loopback port, serving a
real build: content types with charset, gzip_static twins, 304s, Cache-Control, dotfiles,
and folder URLs answered by their index.html."""

from __future__ import annotations

import gzip
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from db.store import Store
from feeds.sitebuild import build_pages
from tests.conftest import free_port, wait_for_http
from tests.nginx_site import find_nginx, nginx_command
from tests.published import CONTENT_TYPES, publish, site

NGINX = find_nginx()
pytestmark = pytest.mark.skipif(
    NGINX is None, reason="nginx is not installed (Debian package nginx-light; .ci/run installs it)"
)


# Excerpt pages for the (remote) test articles, and short section pages, so that the build
# writes article pages and paging too.
PAGES = {"remote_pages": "excerpt", "section_page_size": 3}


@pytest.fixture
def nginx(tmp_path: Path, store: Store) -> Iterator[tuple[str, Path]]:
    assert NGINX is not None
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    out = tmp_path / "public"
    feeds = publish(store, out, base, **PAGES)
    build_pages(store, site(base, **PAGES), out, specs=feeds.feeds, fsync=False)
    (out / ".segreto").write_text("no", encoding="utf-8")
    command = nginx_command(
        NGINX, tmp_path / "nginx", out, port, http_extra=f"access_log {tmp_path}/nginx/access.log;"
    )
    check = subprocess.run([*command, "-t"], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    process = subprocess.Popen(
        [*command, "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
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
        *CONTENT_TYPES.items(),
        ("categoria/cronaca/atom.xml", "application/xml; charset=utf-8"),
        ("fonte/gazzetta-del-lago/feed.json", "application/feed+json; charset=utf-8"),
        ("archivio/1/atom.xml", "application/xml; charset=utf-8"),
        ("sitemap.xml", "application/xml; charset=utf-8"),
        ("sitemap-news.xml", "application/xml; charset=utf-8"),
        ("robots.txt", "text/plain; charset=utf-8"),
    ],
)
def test_content_types(nginx: tuple[str, Path], path: str, content_type: str) -> None:
    base, out = nginx
    response = httpx.get(base + path, headers={"Accept-Encoding": "identity"})
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    file = out / path / "index.html" if path.endswith("/") or not path else out / path
    assert response.content == file.read_bytes()
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
    assert response.headers["content-type"] == "application/xml; charset=utf-8"
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


def page_folders(out: Path) -> list[str]:
    """A section page, its second page and an article page of the build, as folder paths."""
    article = next(out.glob("articoli/*/*/*/index.html")).parent
    return [
        "categoria/cronaca/",
        "categoria/cronaca/pagina/2/",
        article.relative_to(out).as_posix() + "/",
    ]


def test_folder_url_serves_its_index_page(nginx: tuple[str, Path]) -> None:
    base, out = nginx
    for folder in page_folders(out):
        page = out / folder / "index.html"
        with (
            httpx.Client(headers={"Accept-Encoding": "gzip"}) as client,
            client.stream("GET", base + folder) as response,
        ):
            raw = b"".join(response.iter_raw())
        assert response.status_code == 200, folder
        assert response.headers["content-type"] == "text/html; charset=utf-8"
        assert response.headers["content-encoding"] == "gzip"
        assert response.headers["vary"] == "Accept-Encoding"
        assert raw == page.with_name("index.html.gz").read_bytes()
        assert gzip.decompress(raw) == page.read_bytes()
        with httpx.Client(headers={"Accept-Encoding": "identity"}) as client:
            plain = client.get(base + folder)
            assert plain.content == page.read_bytes() and "content-encoding" not in plain.headers
            assert plain.headers["last-modified"] == response.headers["last-modified"]
            assert plain.headers["cache-control"] == "max-age=600"
            etag = plain.headers["etag"]
            assert client.get(base + folder, headers={"If-None-Match": etag}).status_code == 304
            since = plain.headers["last-modified"]
            assert (
                client.get(base + folder, headers={"If-Modified-Since": since}).status_code == 304
            )
            redirect = client.get(base + folder.rstrip("/"))
            assert redirect.status_code == 301
            assert redirect.headers["location"] == base + folder
    # A folder without index.html is not listed.
    assert httpx.get(base + "categoria/").status_code in (403, 404)


def test_dotfiles_are_not_served(nginx: tuple[str, Path]) -> None:
    base, out = nginx
    assert (out / ".rassegna-build.json").exists()
    assert httpx.get(base + ".rassegna-build.json").status_code == 404
    assert httpx.get(base + ".segreto").status_code == 404

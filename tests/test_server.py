"""The HTTP server over real loopback: types, ETag, Last-Modified, 304, HEAD, safety."""

from __future__ import annotations

from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path

import httpx
import pytest

from rassegna.server import create_app
from tests.conftest import serving
from tests.published import CONTENT_TYPES


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    out = tmp_path / "public"
    (out / "categoria" / "cronaca").mkdir(parents=True)
    (out / "rss.xml").write_text("<rss>città</rss>", encoding="utf-8")
    (out / "atom.xml").write_text("<feed/>", encoding="utf-8")
    (out / "feed.json").write_text("{}", encoding="utf-8")
    (out / "index.html").write_text("<p>indice</p>", encoding="utf-8")
    (out / "categoria" / "cronaca" / "rss.xml").write_text("<rss/>", encoding="utf-8")
    (out / "categoria" / "cronaca" / "index.html").write_text("<p>cronaca</p>", encoding="utf-8")
    (out / "feed.xsl").write_text("<xsl:stylesheet/>", encoding="utf-8")
    (out / "opml.xml").write_text("<opml/>", encoding="utf-8")
    (tmp_path / "segreto.txt").write_text("no", encoding="utf-8")
    with serving(create_app(out, max_age=120)) as base:
        yield base, out


@pytest.mark.parametrize(("path", "content_type"), CONTENT_TYPES.items())
def test_content_types(served: tuple[str, Path], path: str, content_type: str) -> None:
    base, _ = served
    response = httpx.get(f"{base}/{path}")
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type


def test_body_and_cache_headers(served: tuple[str, Path]) -> None:
    base, out = served
    response = httpx.get(base + "/rss.xml")
    assert response.text == "<rss>città</rss>"
    assert response.headers["etag"].startswith('"') and not response.headers["etag"].startswith(
        "W/"
    )
    mtime = int((out / "rss.xml").stat().st_mtime)
    assert response.headers["last-modified"] == formatdate(mtime, usegmt=True)
    assert response.headers["cache-control"] == "public, max-age=120"


def test_conditional_get(served: tuple[str, Path]) -> None:
    base, out = served
    first = httpx.get(base + "/rss.xml")
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    by_etag = httpx.get(base + "/rss.xml", headers={"If-None-Match": etag})
    assert by_etag.status_code == 304 and by_etag.content == b""
    assert by_etag.headers["etag"] == etag
    by_date = httpx.get(base + "/rss.xml", headers={"If-Modified-Since": modified})
    assert by_date.status_code == 304 and by_date.content == b""
    stale = httpx.get(base + "/rss.xml", headers={"If-None-Match": '"altro"'})
    assert stale.status_code == 200
    old = httpx.get(
        base + "/rss.xml", headers={"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}
    )
    assert old.status_code == 200
    # A changed file gets a new ETag and the old one no longer matches.
    (out / "rss.xml").write_text("<rss>nuovo</rss>", encoding="utf-8")
    changed = httpx.get(base + "/rss.xml", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.text == "<rss>nuovo</rss>"
    assert changed.headers["etag"] != etag


def test_head(served: tuple[str, Path]) -> None:
    base, _ = served
    response = httpx.head(base + "/rss.xml")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == str(len("<rss>città</rss>".encode()))


def test_not_found_and_no_escape(served: tuple[str, Path]) -> None:
    base, _ = served
    assert httpx.get(base + "/manca.xml").status_code == 404
    assert httpx.get(base + "/../segreto.txt").status_code == 404
    assert httpx.get(base + "/%2e%2e/segreto.txt").status_code == 404
    redirect = httpx.get(base + "/categoria/cronaca")
    assert redirect.status_code == 301 and redirect.headers["location"] == "/categoria/cronaca/"
    # A folder without index.html is not listed.
    assert httpx.get(base + "/categoria/").status_code == 404


def test_folder_url_answers_with_its_index_page(served: tuple[str, Path]) -> None:
    base, _ = served
    page = httpx.get(base + "/categoria/cronaca/")
    assert page.status_code == 200 and page.text == "<p>cronaca</p>"
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["etag"] == httpx.get(base + "/categoria/cronaca/index.html").headers["etag"]
    again = httpx.get(base + "/categoria/cronaca/", headers={"If-None-Match": page.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    since = page.headers["last-modified"]
    assert (
        httpx.get(base + "/categoria/cronaca/", headers={"If-Modified-Since": since}).status_code
        == 304
    )
    # The redirect to the slash form keeps the query.
    redirect = httpx.get(base + "/categoria/cronaca?pagina=2")
    assert redirect.status_code == 301
    assert redirect.headers["location"] == "/categoria/cronaca/?pagina=2"
    followed = httpx.get(base + "/categoria/cronaca", follow_redirects=True)
    assert followed.status_code == 200 and followed.text == "<p>cronaca</p>"
    head = httpx.head(base + "/categoria/cronaca/")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(b"<p>cronaca</p>"))


@pytest.fixture
def served_gzip(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A built-like output (files with .gz twins) served with WebSub hubs configured."""
    import gzip
    import os

    out = tmp_path / "public"
    (out / "categoria" / "cronaca").mkdir(parents=True)
    for relative, text in (
        ("rss.xml", "<rss>città " + "perché " * 200 + "</rss>"),
        ("feed.json", '{"title": "già"}'),
        ("index.html", "<p>indice</p>"),
        ("categoria/cronaca/atom.xml", "<feed>più</feed>"),
        ("categoria/cronaca/index.html", "<p>cronaca " + "più " * 200 + "</p>"),
    ):
        path = out / relative
        path.write_text(text, encoding="utf-8")
        twin = path.with_name(path.name + ".gz")
        twin.write_bytes(gzip.compress(path.read_bytes(), mtime=0))
        st = path.stat()
        os.utime(twin, ns=(st.st_atime_ns, st.st_mtime_ns))
    app = create_app(
        out,
        max_age=600,
        hubs=("https://hub.example.it/", "https://altro-hub.example.it/"),
        base_url="https://feed.example.it/rassegna",
    )
    with serving(app) as base:
        yield base, out


def gzipped(client: httpx.Client, url: str, content_type: str) -> tuple[httpx.Response, bytes]:
    """GET `url` from a client that accepts gzip: the response and the bytes as they went
    over the wire, which are gzip, vary on Accept-Encoding and keep the file's type."""
    with client.stream("GET", url) as response:
        raw = b"".join(response.iter_raw())
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["vary"] == "Accept-Encoding"
    assert response.headers["content-type"] == content_type
    return response, raw


def test_gzip_twin_is_served_to_clients_that_accept_it(served_gzip: tuple[str, Path]) -> None:
    import gzip

    base, out = served_gzip
    plain_bytes = (out / "rss.xml").read_bytes()
    with httpx.Client(headers={"Accept-Encoding": "gzip"}) as client:
        # httpx decodes the body itself; the raw stream shows what went over the wire.
        response, raw = gzipped(client, base + "/rss.xml", "application/xml; charset=utf-8")
        assert gzip.decompress(raw) == plain_bytes
        assert raw == (out / "rss.xml.gz").read_bytes()
        assert len(raw) < len(plain_bytes)
        zipped_etag = response.headers["etag"]
        again = client.get(base + "/rss.xml", headers={"If-None-Match": zipped_etag})
        assert again.status_code == 304
        assert again.headers["content-encoding"] == "gzip"
    with httpx.Client(headers={"Accept-Encoding": "identity"}) as client:
        plain = client.get(base + "/rss.xml")
        assert "content-encoding" not in plain.headers
        assert plain.headers["vary"] == "Accept-Encoding"
        assert plain.content == plain_bytes
        # Two representations, two strong ETags, one Last-Modified.
        assert plain.headers["etag"] != zipped_etag
        assert plain.headers["last-modified"] == response.headers["last-modified"]
    refused = httpx.get(base + "/rss.xml", headers={"Accept-Encoding": "gzip;q=0, br"})
    assert "content-encoding" not in refused.headers


def test_folder_page_has_its_gzip_twin(served_gzip: tuple[str, Path]) -> None:
    import gzip

    base, out = served_gzip
    plain_bytes = (out / "categoria" / "cronaca" / "index.html").read_bytes()
    with httpx.Client(headers={"Accept-Encoding": "gzip"}) as client:
        response, raw = gzipped(client, base + "/categoria/cronaca/", "text/html; charset=utf-8")
        assert raw == (out / "categoria" / "cronaca" / "index.html.gz").read_bytes()
        assert gzip.decompress(raw) == plain_bytes
        etag = response.headers["etag"]
        again = client.get(base + "/categoria/cronaca/", headers={"If-None-Match": etag})
        assert again.status_code == 304
    plain = httpx.get(base + "/categoria/cronaca/", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.content == plain_bytes
    assert plain.headers["etag"] != etag
    assert plain.headers["last-modified"] == response.headers["last-modified"]
    assert "link" not in plain.headers  # pages are not feeds: no WebSub discovery


def test_stale_gzip_twin_is_not_served(served_gzip: tuple[str, Path]) -> None:
    import os

    base, out = served_gzip
    (out / "feed.json").write_text('{"title": "nuovo"}', encoding="utf-8")
    twin = out / "feed.json.gz"
    os.utime(twin, ns=(1_000_000_000, 1_000_000_000))
    response = httpx.get(base + "/feed.json", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in response.headers
    assert response.json() == {"title": "nuovo"}
    assert response.headers["content-type"] == "application/feed+json; charset=utf-8"


def test_websub_link_headers_on_feeds_only(served_gzip: tuple[str, Path]) -> None:
    base, _ = served_gzip
    rss = httpx.get(base + "/rss.xml")
    assert rss.headers["link"] == (
        '<https://hub.example.it/>; rel="hub", <https://altro-hub.example.it/>; rel="hub", '
        '<https://feed.example.it/rassegna/rss.xml>; rel="self"'
    )
    section = httpx.get(base + "/categoria/cronaca/atom.xml")
    assert section.headers["link"].endswith(
        '<https://feed.example.it/rassegna/categoria/cronaca/atom.xml>; rel="self"'
    )
    assert section.headers["content-type"] == "application/xml; charset=utf-8"
    assert "link" not in httpx.get(base + "/").headers
    assert httpx.get(base + "/").headers["cache-control"] == "public, max-age=600"


def test_no_link_header_without_hubs(served: tuple[str, Path]) -> None:
    base, _ = served
    assert "link" not in httpx.get(base + "/rss.xml").headers


def test_nosniff_everywhere_and_no_dotfiles(served: tuple[str, Path]) -> None:
    base, out = served
    (out / ".rassegna-build.json").write_text("{}", encoding="utf-8")
    (out / ".nascosta").mkdir()
    (out / ".nascosta" / "rss.xml").write_text("<rss/>", encoding="utf-8")
    for path in ("/rss.xml", "/", "/healthz", "/manca.xml"):
        assert httpx.get(base + path).headers["x-content-type-options"] == "nosniff", path
    assert httpx.get(base + "/.rassegna-build.json").status_code == 404
    assert httpx.get(base + "/.nascosta/rss.xml").status_code == 404


def test_port_in_use_is_one_sentence(tmp_path: Path) -> None:
    import socket

    from rassegna.server import BackgroundServer, ServerError

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = BackgroundServer(create_app(tmp_path), "127.0.0.1", port)
        with pytest.raises(ServerError) as caught:
            server.start()
        server.stop()
    assert (
        caught.value.message == f"server: cannot listen on 127.0.0.1:{port}: Address already in use"
    )

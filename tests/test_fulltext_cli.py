"""The full-text commands as real subprocesses: `check` on a broken site rule, `rules site`,
`preview --full-text`, and `ingest` then `sources --json` with the full-text counts."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from tests.conftest import run_cli, write_config
from tests.remote_helpers import rss

DATA = Path(__file__).resolve().parent / "data" / "fulltext"


def config(
    tmp_path: Path, feed_url: str = "", *, rules: str = "regole", strip_tracking: bool = True
) -> Path:
    source = (
        f'\n[[sources]]\nname = "Gazzetta"\nkind = "feed"\nurl = "{feed_url}"\n'
        'full_text = "auto"\ncontent_selector = "div.testo"\nstrip_selectors = [".banner"]\n'
        if feed_url
        else ""
    )
    return write_config(
        tmp_path,
        f'[site]\ntitle = "Prova"\n\n[state]\ndir = "var"\n\n[output]\ndir = "var/public"\n\n'
        f'[ingest]\nallow_private_networks = true\nhost_delay = 0\nsite_rules = "{rules}"\n'
        f"strip_tracking = {str(strip_tracking).lower()}\n" + source,
    )


def check_with_rule(tmp_path: Path, name: str, rule: str) -> subprocess.CompletedProcess[str]:
    """`rassegna check` on the test rules with the site rule file `name` holding `rule`."""
    shutil.copytree(DATA / "rules", tmp_path / "regole")
    (tmp_path / "regole" / name).write_text(rule, encoding="utf-8")
    return run_cli("--config", str(config(tmp_path)), "check")


def test_check_names_the_broken_rule_file_and_line(tmp_path: Path) -> None:
    result = check_with_rule(
        tmp_path, "rotto.example.txt", "# una regola\nbody: //div[@class='testo'\n"
    )
    assert result.returncode == 1
    assert "rotto.example.txt, line 2: not a valid XPath" in result.stderr
    assert result.stderr.count("error:") == 1


def test_rules_site_prints_the_rule_in_force(tmp_path: Path) -> None:
    shutil.copytree(DATA / "rules", tmp_path / "regole")
    path = str(config(tmp_path))
    result = run_cli("--config", path, "rules", "site", "localhost")
    assert result.returncode == 0, result.stderr
    assert "localhost.txt" in result.stdout
    assert "body: //div[@itemprop='articleBody']" in result.stdout
    shipped = run_cli("--config", path, "rules", "site", "https://gatti.wordpress.com/x")
    assert shipped.returncode == 0 and ".wordpress.com.txt" in shipped.stdout
    missing = run_cli("--config", path, "rules", "site", "www.esempio.it")
    assert missing.returncode == 1 and "no site rule for www.esempio.it" in missing.stderr


def test_preview_ingest_and_sources(tmp_path: Path, httpserver: HTTPServer) -> None:
    shutil.copytree(DATA / "rules", tmp_path / "regole")
    port = httpserver.port
    httpserver.expect_request("/ponte").respond_with_data(
        (DATA / "cronaca-ponte.html").read_bytes(), content_type="text/html; charset=utf-8"
    )
    httpserver.expect_request("/cuoio").respond_with_data(
        (DATA / "economia-selettore.html").read_bytes(), content_type="text/html; charset=utf-8"
    )
    httpserver.expect_request("/rotta").respond_with_data(b"\x00\x01", content_type="text/html")
    feed = rss(
        f"<item><title>Ponte</title><link>http://localhost:{port}/ponte</link>"
        "<description>In breve.</description></item>",
        f"<item><title>Cuoio</title><link>http://127.0.0.1:{port}/cuoio</link>"
        "<description>In breve.</description></item>",
        f"<item><title>Rotta</title><link>http://127.0.0.1:{port}/rotta</link>"
        "<description>In breve.</description></item>",
    )
    httpserver.expect_request("/feed.xml").respond_with_data(
        feed, content_type="application/rss+xml"
    )
    feed_url = httpserver.url_for("/feed.xml")
    path = str(config(tmp_path, feed_url))

    shown = run_cli("--config", path, "preview", feed_url, "--full-text", "--json")
    assert shown.returncode == 0, shown.stderr
    entries = {e["title"]: e for e in json.loads(shown.stdout)}
    assert entries["Ponte"]["text_source"] == "page"
    assert entries["Ponte"]["site_rule"].endswith("localhost.txt")
    assert "pile centrali" in entries["Ponte"]["content_text"]
    assert entries["Cuoio"]["full_text"] == "selector"
    assert entries["Rotta"]["text_source"] == "feed"

    ingested = run_cli("--config", path, "ingest", "Gazzetta")
    assert ingested.returncode == 0, ingested.stderr
    assert "full text of" in ingested.stderr  # one log line per article
    listed = run_cli("--config", path, "sources", "--json")
    (row,) = json.loads(listed.stdout)
    assert (row["full_text"], row["full_text_ok"], row["full_text_failed"]) == ("auto", 2, 1)


@pytest.mark.parametrize("strip", [True, False], ids=["strip", "keep"])
def test_preview_full_text_follows_strip_tracking(
    tmp_path: Path, httpserver: HTTPServer, strip: bool
) -> None:
    """`preview --full-text` shows links as ingest would store them: with
    `strip_tracking = false` their tracking parameters stay."""
    shutil.copytree(DATA / "rules", tmp_path / "regole")
    httpserver.expect_request("/rotta").respond_with_data(b"\x00\x01", content_type="text/html")
    link = httpserver.url_for("/rotta") + "?id=7&amp;utm_source=rss"
    httpserver.expect_request("/feed.xml").respond_with_data(
        rss(
            f"<item><title>Rotta</title><link>{link}</link><description>In breve.</description></item>"
        ),
        content_type="application/rss+xml",
    )
    feed_url = httpserver.url_for("/feed.xml")
    path = str(config(tmp_path, feed_url, strip_tracking=strip))
    shown = run_cli("--config", path, "preview", feed_url, "--full-text", "--json")
    assert shown.returncode == 0, shown.stderr
    (entry,) = json.loads(shown.stdout)
    expected = httpserver.url_for("/rotta") + ("?id=7" if strip else "?id=7&utm_source=rss")
    assert entry["url"] == expected


def test_check_refuses_a_test_url_that_is_not_http(tmp_path: Path) -> None:
    result = check_with_rule(
        tmp_path, "esempio.it.txt", "body: //article\n\ntest_url: file:///etc/passwd\n"
    )
    assert result.returncode == 1
    assert 'esempio.it.txt, line 3: test_url is not an http or https URL: "file:///etc/passwd"' in (
        " ".join(result.stderr.split())
    )


def _rule_with_tests(tmp_path: Path, port: int, *tests: str) -> None:
    rule = (DATA / "rules" / "localhost.txt").read_text("utf-8")
    rule = "\n".join(line for line in rule.splitlines() if not line.startswith("test_"))
    (tmp_path / "regole").mkdir()
    (tmp_path / "regole" / "localhost.txt").write_text(
        rule + "\n" + "\n".join(tests).replace("PORT", str(port)) + "\n", encoding="utf-8"
    )


def test_rules_site_test_fetches_each_test_url(tmp_path: Path, httpserver: HTTPServer) -> None:
    for path, name in (("/ponte", "cronaca-ponte.html"), ("/cuoio", "economia-selettore.html")):
        httpserver.expect_request(path).respond_with_data(
            (DATA / name).read_bytes(), content_type="text/html; charset=utf-8"
        )
    _rule_with_tests(
        tmp_path,
        httpserver.port,
        "test_url: http://localhost:PORT/ponte",
        "test_contains: Il ponte sull'Arno",
        "test_contains: pile centrali",
    )
    path = str(config(tmp_path))
    good = run_cli("--config", path, "rules", "site", "localhost", "--test")
    assert good.returncode == 0, good.stderr
    assert f"ok: http://localhost:{httpserver.port}/ponte: " in good.stdout
    assert " words" in good.stdout

    # A page the rule's body does not find, and text the page does not have.
    shutil.rmtree(tmp_path / "regole")
    _rule_with_tests(
        tmp_path,
        httpserver.port,
        "test_url: http://localhost:PORT/ponte",
        "test_contains: il viadotto crollato",
        "test_url: http://localhost:PORT/cuoio",
    )
    bad = run_cli("--config", path, "rules", "site", "localhost", "--test")
    assert bad.returncode == 1
    assert "FAILED: http://localhost:" in bad.stdout
    assert 'lacks "il viadotto crollato" (test_contains)' in bad.stdout
    assert "/cuoio: the rule's body finds no article text" in bad.stdout
    assert "2 of 2 test_url pages failed" in " ".join(bad.stderr.split())

    # The same address guard as every fetch: nothing reaches a private address.
    before = len(httpserver.log)
    guarded = run_cli(
        "--config",
        path,
        "rules",
        "site",
        "localhost",
        "--test",
        env={"RASSEGNA_INGEST__ALLOW_PRIVATE_NETWORKS": "false"},
    )
    assert guarded.returncode == 1
    assert "refused" in guarded.stdout and "allow_private_networks" in guarded.stdout
    assert len(httpserver.log) == before

    no_tests = run_cli("--config", path, "rules", "site", "www.esempio.it", "--test")
    assert no_tests.returncode == 1  # no rule at all

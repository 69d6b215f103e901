"""Shared checks of the reliability tests: the published output is whole and valid."""

from __future__ import annotations

import json
from pathlib import Path

import feedparser


def assert_output_valid(out: Path) -> int:
    """Every RSS/Atom file parses with feedparser (bozo 0), every feed.json is a JSON Feed;
    returns how many feed files were checked."""
    checked = 0
    for path in sorted(out.rglob("*")):
        if not path.is_file() or path.name.startswith("."):
            continue
        if path.name in ("rss.xml", "atom.xml"):
            parsed = feedparser.parse(path.read_bytes())
            assert parsed.bozo == 0, (path, parsed.get("bozo_exception"))
            assert parsed.version, path
            checked += 1
        elif path.name == "feed.json":
            document = json.loads(path.read_bytes())
            assert str(document["version"]).startswith("https://jsonfeed.org/version/"), path
            assert isinstance(document["items"], list), path
            checked += 1
    return checked

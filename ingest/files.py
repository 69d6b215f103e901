"""The files adapter: a folder of `.txt` articles (sample format) and `.md` articles with
YAML front matter, read into `RawArticle`s.

A `.txt` article is line 1 the title, line 2 the standfirst, a blank line, then one body
paragraph per line. A `.md` article starts with a `---` front matter block (title, date,
updated, author or authors, category, tags, url, summary, language, image) followed by a
Markdown body.
"""

from __future__ import annotations

import codecs
import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import yaml
from markdown_it import MarkdownIt

from ingest.charset import decode_text_file
from ingest.errors import BadArticle
from ingest.raw import RawArticle

ARTICLE_SUFFIXES = (".txt", ".md")
# UTF-32 LE starts with the UTF-16 LE mark, so one prefix test covers all four.
_WIDE_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_BE)


@dataclass(frozen=True, slots=True)
class FoundFile:
    """A candidate article file: its path, its guid (relative path) and its stat.

    `path` is a plain string when it comes from `scan_folder`: an unchanged re-ingest
    looks at every file of the folder but reads none, and making a `Path` of each cost
    more than the `stat` itself.
    """

    path: str | Path
    guid: str
    mtime_ns: int
    size: int


def is_utf8_name(name: str) -> bool:
    """Whether a file name read from the disk is valid UTF-8 (Python hands on the bytes
    it cannot decode as lone surrogates, which no UTF-8 text, and so no guid, can hold)."""
    if name.isascii():
        return True
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def printable_path(path: str | os.PathLike[str]) -> str:
    """A path fit for a message or a log: bytes that are not UTF-8 written as `\\xe8`."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def scan_folder(
    root: Path, *, base: Path | None = None, bad_names: list[str] | None = None
) -> Iterator[FoundFile]:
    """Every article file under `root`, sorted, hidden entries and symlinks skipped.

    Guids are paths relative to `base` (default `root`), the folder of the source.

    Symlinks are not followed at all: a link could lead out of the source folder, and a
    source publishes only what its own folder holds.

    A file or folder whose name is not valid UTF-8 is skipped (its guid could not be
    stored, and one such name would fail the whole batch of the folder's files); its path
    (`printable_path`) is added to `bad_names`, when given, for the caller to report.
    """
    base = root if base is None else base
    # Guids are sliced out of `entry.path` strings: every path under `root` is
    # `os.path.join(root, relative)`, so the relative part starts at a fixed offset.
    prefix = root.relative_to(base).as_posix()
    prefix = "" if prefix == "." else prefix + "/"
    root_str = os.fspath(root)
    skip = len(root_str) + (0 if root_str.endswith(os.sep) else 1)
    convert = os.sep != "/"
    stack = [root_str]
    found: list[FoundFile] = []
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as listing:
                entries = list(listing)
        except OSError:
            continue
        for entry in entries:
            name = entry.name
            if name.startswith(".") or entry.is_symlink():
                continue
            if not is_utf8_name(name):
                if bad_names is not None and (
                    entry.is_dir(follow_symlinks=False) or name.endswith(ARTICLE_SUFFIXES)
                ):
                    bad_names.append(printable_path(entry.path))
                continue
            if entry.is_dir(follow_symlinks=False):
                stack.append(entry.path)
            elif name.endswith(ARTICLE_SUFFIXES) and entry.is_file(follow_symlinks=False):
                st = entry.stat(follow_symlinks=False)
                relative = entry.path[skip:]
                if convert:
                    relative = relative.replace(os.sep, "/")
                found.append(FoundFile(entry.path, prefix + relative, st.st_mtime_ns, st.st_size))
    found.sort(key=lambda f: f.guid)
    yield from found


def content_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def decode_text(data: bytes) -> str:
    """The text of an article file (the decoding rule for files, `ingest.charset.decode_text_file`):
    UTF-8 with or without BOM, else Windows-1252 (so also ISO-8859-1); raises BadArticle
    for an empty file, UTF-16 or UTF-32 text, and binary data."""
    if not data.strip():
        raise BadArticle("the file is empty")
    if data.startswith(_WIDE_BOMS):
        raise BadArticle("it starts with a UTF-16 or UTF-32 byte order mark; save it as UTF-8")
    if b"\x00" in data:
        raise BadArticle("the file is binary, not text")
    text = decode_text_file(data)
    if text is None:
        raise BadArticle("the file is binary, not text in UTF-8 or Windows-1252")
    return text


def read_article(found: FoundFile, data: bytes) -> RawArticle:
    """Parse the bytes of one article file; raises BadArticle with the reason."""
    text = decode_text(data)
    mtime = datetime.fromtimestamp(found.mtime_ns / 1e9, tz=UTC)
    if os.fspath(found.path).endswith(".md"):
        raw = parse_markdown(text, guid=found.guid, origin=str(found.path))
    else:
        raw = parse_plain_text(text, guid=found.guid, origin=str(found.path))
    raw.fallback_date = mtime
    if raw.updated is None:
        raw.updated = mtime
    return raw


def parse_plain_text(text: str, *, guid: str, origin: str) -> RawArticle:
    """Line 1 title, line 2 standfirst, a blank line, then one paragraph per line."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    title = lines[0].strip()
    if not title:
        raise BadArticle("it has no title line (line 1 is empty)")
    if len(lines) > 1 and lines[1].strip():
        summary = lines[1].strip()
        body_lines = lines[2:]
    else:
        summary = ""
        body_lines = lines[1:]
    body = "\n".join(line.strip() for line in body_lines if line.strip())
    return RawArticle(guid=guid, title=title, origin=origin, summary=summary, body_text=body)


_YAML_LOADER: type[yaml.SafeLoader] | type[yaml.CSafeLoader] = getattr(
    yaml, "CSafeLoader", yaml.SafeLoader
)
_MARKDOWN = MarkdownIt("commonmark", {"html": True, "typographer": False})
# A body of plain prose paragraphs renders as one `<p>` per block of lines, and most
# article bodies are just that: they are written directly, the parser renders the rest.
# Plain means no character that can open inline markup, an escape, an entity or raw
# HTML anywhere (nor one the parser rewrites: CR, NUL; nor a tab, which indents), and
# every line either empty or free of edge white space and not starting a block (heading,
# list, quote, setext underline, thematic break; fences and code need a tilde, backtick
# or indent, already excluded).
_MARKUP_RE = re.compile(r"[\\`*_&<>\[\]~\r\x00\t]")
_BLOCK_STARTS = "#+-=|0123456789"


# Front matter of `key: "text"` and `key: ["text", ...]` lines only, for the keys read
# here (any other key may be YAML's `yes`, `null`...), every text printable, without `"`
# or `\`: YAML reads each text as it is, so such a block is read without YAML.
_QUOTED_LINE_RE = re.compile(r'([a-z]++): (?:"([^"\\]*+)"|\[((?:"[^"\\]*+"(?:, "[^"\\]*+")*+)?)\])')
_FRONT_MATTER_KEYS = frozenset(
    [
        "title",
        "date",
        "updated",
        "author",
        "authors",
        "category",
        "tags",
        "tag",
        "url",
        "summary",
        "description",
        "language",
        "lang",
        "image",
    ]
)


def _quoted_front_matter(block: str) -> dict[str, Any] | None:
    """The mapping YAML reads from `block` when every line is a quoted `key: value` line
    (above), else None."""
    meta: dict[str, Any] = {}
    for line in block.split("\n"):
        match = _QUOTED_LINE_RE.fullmatch(line)
        if match is None or match[1] not in _FRONT_MATTER_KEYS or not line.isprintable():
            return None
        # YAML keeps the last value of a repeated key, as these assignments do.
        if match[3] is None:
            meta[match[1]] = match[2]
        else:  # no text holds a quote, so the items are split at their `", "`
            meta[match[1]] = match[3][1:-1].split('", "') if match[3] else []
    return meta


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """The YAML front matter as a mapping, and the Markdown body after it."""
    if not text.startswith("---"):
        return {}, text
    first_newline = text.find("\n")
    if first_newline == -1 or text[:first_newline].strip() != "---":
        return {}, text
    end = text.find("\n---", first_newline)
    while end != -1:
        after = text.find("\n", end + 1)
        closing = text[end + 1 : after if after != -1 else len(text)]
        if closing.strip() in ("---", "..."):
            break
        end = text.find("\n---", end + 1)
    if end == -1:
        raise BadArticle("the front matter has no closing '---' line")
    block = text[first_newline + 1 : end]
    after = text.find("\n", end + 1)
    body = text[after + 1 :] if after != -1 else ""
    quoted = _quoted_front_matter(block)
    if quoted is not None:
        return quoted, body
    try:
        # libyaml's loader, much faster than the pure-Python one on a front matter block;
        # same safe constructor, same results.
        meta = yaml.load(block, Loader=_YAML_LOADER)  # noqa: S506 (a safe loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        # libyaml puts "unexpected end of the block" one line past its last line; the
        # file's line is that last one (+2: the block starts after the `---` line).
        line = min(mark.line, block.count("\n")) if mark is not None else None
        where = f" at line {line + 2}" if line is not None else ""
        raise BadArticle(f"the front matter is not valid YAML{where}") from exc
    if meta is None:
        return {}, body
    if not isinstance(meta, dict):
        raise BadArticle("the front matter is not a set of 'key: value' lines")
    return {str(k).lower(): v for k, v in meta.items()}, body


def _as_text(meta: dict[str, Any], key: str) -> str | None:
    value = meta.get(key)
    if value is None:
        return None
    if isinstance(value, (str, int, float)):
        return str(value)
    raise BadArticle(f"front matter '{key}' must be text, not a {type(value).__name__}")


def _as_list(meta: dict[str, Any], *keys: str) -> list[str] | str:
    for key in keys:
        value = meta.get(key)
        if value is None:
            continue
        if isinstance(value, list):
            return [str(v) for v in value if v is not None]
        if isinstance(value, (str, int, float)):
            return str(value)
        raise BadArticle(f"front matter '{key}' must be text or a list")
    return []


def _as_date(meta: dict[str, Any], key: str) -> datetime | str | None:
    value = meta.get(key)
    if value is None or isinstance(value, (datetime, str)):
        return value
    if isinstance(value, date):
        return datetime.combine(value, time())
    raise BadArticle(f"front matter '{key}' is not a date")


def parse_markdown(text: str, *, guid: str, origin: str) -> RawArticle:
    """A Markdown article with YAML front matter; the body is rendered to HTML."""
    meta, body = split_front_matter(text)
    title = (_as_text(meta, "title") or "").strip()
    if not title:
        for line in body.split("\n"):
            if line.startswith("# "):
                title = line[2:].strip()
                body = body.replace(line, "", 1)
                break
    if not title:
        raise BadArticle("it has no title (no 'title' in the front matter, no '# ' heading)")
    updated = _as_date(meta, "updated")
    tags = _as_list(meta, "tags", "tag")
    return RawArticle(
        guid=guid,
        title=title,
        origin=origin,
        summary=_as_text(meta, "summary") or _as_text(meta, "description") or "",
        body_html=render_markdown(body),
        url=_as_text(meta, "url"),
        published=_as_date(meta, "date"),
        updated=updated if isinstance(updated, datetime) else None,
        authors=_as_list(meta, "authors", "author"),
        category=_as_text(meta, "category"),
        tags=[tags] if isinstance(tags, str) else tags,
        language=_as_text(meta, "language") or _as_text(meta, "lang"),
        image_url=_as_text(meta, "image"),
    )


def render_markdown(body: str) -> str:
    """`body` rendered as CommonMark (raw HTML allowed, no typographer)."""
    paragraphs = _plain_paragraphs(body)
    if paragraphs is None:
        rendered: str = _MARKDOWN.render(body)
        return rendered
    # The renderer escapes &, <, > and "; only the quote can occur in plain prose.
    return "".join("<p>" + text.replace('"', "&quot;") + "</p>\n" for text in paragraphs)


def _plain_paragraphs(body: str) -> list[str] | None:
    """The paragraphs (lines joined by line breaks) of a plain prose body, None if it may
    hold any other Markdown."""
    if _MARKUP_RE.search(body):
        return None
    paragraphs: list[str] = []
    lines: list[str] = []
    for line in body.split("\n"):
        if not line:
            if lines:
                paragraphs.append("\n".join(lines))
                lines = []
        elif line[0] in _BLOCK_STARTS or line.strip() != line:
            return None
        else:
            lines.append(line)
    if lines:
        paragraphs.append("\n".join(lines))
    return paragraphs

"""Site rules in the FiveFilters `ftr-site-config` format: how to find the article on a
publisher's pages.

One file per site, named after its host: `example.it.txt` serves `example.it` and
`www.example.it`; `.example.it.txt` serves every subdomain of `example.it` as well. Each
line is `directive: value`; `#` starts a comment. Understood directives:

- `body:` XPath of the article body (several lines: the first that matches wins);
- `strip:` XPath of elements to remove; `strip_id_or_class:` a word whose elements (by id
  or class) are removed; `strip_image_src:` part of the src of images to remove;
- `title:`, `author:`, `date:` XPath of the metadata;
- `single_page_link:` XPath of a link to the whole article on one page;
- `next_page_link:` XPath of the link to the next page of an article split over several;
- `prune:` yes/no (default yes): drop boxes of links and forms left inside the body;
- `tidy:` yes/no: FiveFilters runs HTML Tidy before its XPath; here every page, with or
  without it, goes through lxml's (libxml2's) HTML parser, which does the same repairs
  (unclosed elements closed, misnested ones and stray end tags fixed, the tree completed
  with `html` and `body`), so `tidy: yes` changes nothing more;
- `test_url:` a page to try the rule on (an http or https URL), each followed by the
  `test_contains:` texts it must yield (`rassegna rules site HOST --test`);
- `autodetect_on_failure:` yes/no (default yes): fall back to the next extractor;
- `find_string:` / `replace_string:` pairs, and `replace_string(find): replacement`,
  applied to the page's HTML before parsing.

Other directives of the format (`http_header(...)`, `login_*`, `parser`, `native_ad_clue`,
...) are read and ignored. Every XPath is compiled when the file is read, so a rule that
does not parse is one error naming the file and the line, at `rassegna check`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from urllib.parse import urlsplit

from lxml import etree

SHIPPED = "ingest.data.siterules"
_LINE_RE = re.compile(r"^([a-z_]+)(?:\(([^)]*)\))?\s*:\s?(.*)$")
_XPATH_KEYS = frozenset(
    {"body", "strip", "title", "author", "date", "single_page_link", "next_page_link"}
)
_LIST_KEYS = frozenset({"strip_id_or_class", "strip_image_src"})
_BOOL_KEYS = frozenset({"prune", "tidy", "autodetect_on_failure"})
_IGNORED = frozenset(
    {
        "http_header",
        "login_uri",
        "login_username_field",
        "login_password_field",
        "login_extra_fields",
        "not_logged_in_xpath",
        "parser",
        "native_ad_clue",
        "dissolve",
        "strip_attr",
        "move_into",
        "wrap_in",
        "src_lazy_load_attr",
        "if_page_contains",
        "skip_json_ld",
        "single_page_link_in_feed",
        "next_page_link_in_feed",
        "insert_detected_image",
        "convert_double_br_tags",
        "strip_comments",
    }
)


class SiteRuleError(Exception):
    """A rule file that cannot be read; `message` names the file and the line."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class SiteRule:
    """One site's rule, with the XPath already compiled."""

    host: str  # as the file names it (".example.it" for every subdomain)
    path: str  # the file it came from, for messages
    body: tuple[str, ...] = ()
    strip: tuple[str, ...] = ()
    strip_id_or_class: tuple[str, ...] = ()
    strip_image_src: tuple[str, ...] = ()
    title: tuple[str, ...] = ()
    author: tuple[str, ...] = ()
    date: tuple[str, ...] = ()
    single_page_link: tuple[str, ...] = ()
    next_page_link: tuple[str, ...] = ()
    test_url: tuple[str, ...] = ()
    test_contains: tuple[str, ...] = ()
    tests: tuple[tuple[str, tuple[str, ...]], ...] = ()  # each test_url, its test_contains
    replacements: tuple[tuple[str, str], ...] = ()
    prune: bool = True
    tidy: bool = False
    autodetect_on_failure: bool = True
    ignored: tuple[str, ...] = field(default=())  # directives read but not applied

    def describe(self) -> str:
        """The rule as a file in the same format, from where it came."""
        lines = [f"# {self.path}"]
        for key in (
            "title",
            "author",
            "date",
            "body",
            "strip",
            "strip_id_or_class",
            "strip_image_src",
            "single_page_link",
            "next_page_link",
        ):
            lines.extend(f"{key}: {value}" for value in getattr(self, key))
        for find, replacement in self.replacements:
            lines.append(f"replace_string({find}): {replacement}")
        lines.append(f"prune: {'yes' if self.prune else 'no'}")
        lines.append(f"tidy: {'yes' if self.tidy else 'no'}")
        lines.append(f"autodetect_on_failure: {'yes' if self.autodetect_on_failure else 'no'}")
        for url, contains in self.tests:
            lines.append(f"test_url: {url}")
            lines.extend(f"test_contains: {value}" for value in contains)
        return "\n".join(lines)


def _check_xpath(value: str, where: str) -> None:
    try:
        etree.XPath(value)
    except etree.XPathSyntaxError as exc:
        raise SiteRuleError(f"{where}: not a valid XPath: {value} ({exc})") from exc


def _yes(value: str, where: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("yes", "true", "1", "on"):
        return True
    if lowered in ("no", "false", "0", "off"):
        return False
    raise SiteRuleError(f'{where}: "{value}" is not yes or no')


def _test_url(value: str, where: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SiteRuleError(f'{where}: test_url is not an http or https URL: "{value}"')
    return value


def parse_rule(text: str, *, host: str, path: str) -> SiteRule:
    """A rule from the text of one file; raises SiteRuleError naming `path` and the line."""
    values: dict[str, list[str]] = {}
    flags: dict[str, bool] = {}
    replacements: list[tuple[str, str]] = []
    pending_find: list[str] = []
    ignored: list[str] = []
    tests: list[tuple[str, list[str]]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{path}, line {number}"
        match = _LINE_RE.match(line)
        if match is None:
            raise SiteRuleError(f'{where}: not a "directive: value" line: {line}')
        key, argument, value = match.group(1), match.group(2), match.group(3).strip()
        if key in _XPATH_KEYS:
            if argument is not None:
                raise SiteRuleError(f"{where}: {key} takes no argument in parentheses")
            if not value:
                raise SiteRuleError(f"{where}: {key} needs an XPath")
            _check_xpath(value, where)
            values.setdefault(key, []).append(value)
        elif key in _LIST_KEYS:
            if value:
                values.setdefault(key, []).append(value)
        elif key == "test_url":
            tests.append((_test_url(value, where), []))
        elif key == "test_contains":
            if not tests:
                raise SiteRuleError(f"{where}: test_contains without a test_url before it")
            if value:
                tests[-1][1].append(value)
        elif key in _BOOL_KEYS:
            flags[key] = _yes(value, where)
        elif key == "find_string":
            pending_find.append(match.group(3))
        elif key == "replace_string":
            if argument is not None:
                replacements.append((argument, match.group(3)))
            elif pending_find:
                replacements.append((pending_find.pop(0), match.group(3)))
            else:
                raise SiteRuleError(f"{where}: replace_string without a find_string before it")
        elif key in _IGNORED:
            ignored.append(key)
        else:
            raise SiteRuleError(f'{where}: unknown directive "{key}"')
    if pending_find:
        raise SiteRuleError(f"{path}: find_string without a replace_string after it")
    tuples = {key: tuple(found) for key, found in values.items()}
    return SiteRule(
        host=host,
        path=path,
        test_url=tuple(url for url, _ in tests),
        test_contains=tuple(value for _, contains in tests for value in contains),
        tests=tuple((url, tuple(contains)) for url, contains in tests),
        replacements=tuple(replacements),
        ignored=tuple(dict.fromkeys(ignored)),
        **tuples,  # type: ignore[arg-type]
        **flags,  # type: ignore[arg-type]
    )


def _host_of(name: str) -> str | None:
    if not name.endswith(".txt"):
        return None
    host = name[: -len(".txt")].lower()
    return host if host.strip(".") else None


@dataclass(frozen=True, slots=True)
class SiteRules:
    """Every rule in force, by host; the user's rules win over the shipped ones."""

    by_host: dict[str, SiteRule] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.by_host)

    def __iter__(self) -> Iterator[SiteRule]:
        return iter(self.by_host.values())

    def for_host(self, host: str) -> SiteRule | None:
        """The rule for `host`: its own file, then without `www.`, then the nearest
        `.parent` file (FiveFilters' lookup order)."""
        host = host.lower().rstrip(".")
        for candidate in (host, host.removeprefix("www.")):
            if candidate in self.by_host:
                return self.by_host[candidate]
        labels = host.split(".")
        for start in range(len(labels) - 1):
            wildcard = "." + ".".join(labels[start:])
            if wildcard in self.by_host:
                return self.by_host[wildcard]
        return None


def _read_folder(folder: Path) -> Iterable[SiteRule]:
    if not folder.is_dir():
        raise SiteRuleError(f"{folder}: site rules folder not found (ingest.site_rules)")
    for path in sorted(folder.iterdir()):
        host = _host_of(path.name)
        if host is None or not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise SiteRuleError(f"{path}: not UTF-8 text (byte {exc.start})") from exc
        except OSError as exc:
            raise SiteRuleError(f"{path}: cannot read it: {exc.strerror}") from exc
        yield parse_rule(text, host=host, path=str(path))


def shipped_rules() -> list[SiteRule]:
    """The rules that come with rassegna (`ingest/data/siterules/`)."""
    found: list[SiteRule] = []
    for entry in sorted(files(SHIPPED).iterdir(), key=lambda e: e.name):
        host = _host_of(entry.name)
        if host is not None:
            found.append(
                parse_rule(
                    entry.read_text(encoding="utf-8"), host=host, path=f"(rassegna) {entry.name}"
                )
            )
    return found


def load_site_rules(folder: Path | None = None, *, shipped: bool = True) -> SiteRules:
    """The shipped rules, then the files of `folder` (`[ingest] site_rules`), which replace
    a shipped rule for the same host."""
    by_host: dict[str, SiteRule] = {}
    if shipped:
        by_host.update((rule.host, rule) for rule in shipped_rules())
    if folder is not None:
        by_host.update((rule.host, rule) for rule in _read_folder(folder))
    return SiteRules(by_host)

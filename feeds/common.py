"""Helpers shared by every output format: text cleaning, dates, entry fallbacks."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import format_datetime
from html import escape
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

import nh3
from lxml import etree
from lxml import html as lxml_html

from db.records import StoredArticle

# Dropped from everything we publish: the code points XML 1.0 forbids (lxml refuses them
# outright), lone surrogates (they cannot even be encoded as UTF-8), and DEL, the C1
# controls and the Unicode noncharacters, which XML carries but HTML parsers reject (the
# W3C feed validator reports "Invalid HTML" or "bad characters" for them). None is text.
_NONCHARACTERS = "\ufdd0-\ufdef" + "".join(
    f"{chr(plane + 0xFFFE)}{chr(plane + 0xFFFF)}" for plane in range(0, 0x110000, 0x10000)
)
_NOT_XML_CHARS = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff{_NONCHARACTERS}]")
# The same set within the Basic Multilingual Plane, and any character beyond it. The
# regex engine tries every listed character of a class against each character of the
# text, and the 32 noncharacters of the other planes make the whole class many times
# slower; text beyond the BMP (emoji) is rare, so the full class runs only on such text.
_NOT_XML_BMP = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff]"
)
_SPACES = re.compile(r"\s+")

# An empty feed still needs a date (Atom `updated` is required); a fixed one keeps its
# bytes stable from build to build, unlike the clock.
EMPTY_FEED_DATE = datetime(2000, 1, 1, tzinfo=UTC)

UNTITLED = "(senza titolo)"
SUMMARY_CHARS = 280


def clean_text(text: str) -> str:
    """`text` without the characters XML 1.0 cannot carry, nor controls and noncharacters."""
    # Every character dropped here is a control, a surrogate or a noncharacter, none of
    # which is printable, so printable text (most of it) is returned as it is: one C scan
    # of the text, where the regex costs twice as much on text that holds none.
    if text.isprintable():
        return text
    text = _NOT_XML_BMP.sub("", text)
    return text if _within_bmp(text) else _NOT_XML_CHARS.sub("", text)


def _within_bmp(text: str) -> bool:
    """Whether no character of `text` lies beyond the BMP (`text` holds no surrogate): one
    UTF-16 code unit each, told by one encode in C, where a regex scan over a class of
    the other planes costs several times more."""
    return text.isascii() or len(text.encode("utf-16-le")) == 2 * len(text)


def one_line(text: str) -> str:
    """Cleaned text with its whitespace collapsed, for titles and names."""
    # The ASCII space is the only printable white space, so printable text without two
    # spaces in a row is already collapsed and clean (`clean_text`): only its ends are
    # left. `_SPACES.sub` builds a new string piece by piece, one per space, and ran for
    # every title and summary of every page and feed entry.
    if text.isprintable() and "  " not in text:
        return text.strip()
    return _SPACES.sub(" ", clean_text(text)).strip()


def title_of(article: StoredArticle) -> str:
    return one_line(article.title) or UNTITLED


def summary_of(article: StoredArticle) -> str:
    """The plain-text summary, else the start of the text, else the title: never blank,
    since an Atom entry without content needs a summary with text in it."""
    summary = one_line(article.summary)
    if summary:
        return summary
    text = one_line(article.content_text)
    if len(text) > SUMMARY_CHARS:
        text = text[:SUMMARY_CHARS].rsplit(" ", 1)[0] + "…"
    return text or title_of(article)


def page_url(base_url: str, page_path: str) -> str:
    """The absolute URL of the page stored at folder `page_path` of the output."""
    return base_url.rstrip("/") + "/" + page_path.strip("/") + "/"


def is_web_url(url: str | None) -> bool:
    """Whether `url` is one a reader can follow (http or https): a `file://` URL or a
    relative one would name a path of this server, or nothing at all."""
    return bool(url and url.startswith(("http://", "https://")))


def has_own_url(article: StoredArticle) -> bool:
    return is_web_url(article.url)


def article_link(article: StoredArticle, base_url: str, site_link: str) -> str:
    """Where a feed item or a list leads: the article's own URL, else its page here (the
    site's page only for a row that has no address, which the store never leaves)."""
    if article.url and is_web_url(article.url):
        return article.url
    if article.page_path:
        return page_url(base_url, article.page_path)
    return article.url or site_link


def web_image_of(article: StoredArticle) -> str | None:
    """The article's lead image URL when it is a web (http, https) URL, else None.

    A relative image in a feed read from a file is resolved against that file's
    `file://` URL: readers cannot fetch it, and it would publish a path of this server.
    """
    return article.image_url if is_web_url(article.image_url) else None


def authors_of(article: StoredArticle) -> list[str]:
    return [name for name in (one_line(a) for a in article.authors) if name]


def local_exact(moment: datetime, tz: ZoneInfo) -> datetime:
    """An aware datetime shown in the site's time zone, with its microseconds."""
    if moment.tzinfo is None:
        # The store hands out aware UTC datetimes; a naive one is read as UTC too.
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(tz)


def local(moment: datetime, tz: ZoneInfo) -> datetime:
    """An aware datetime shown in the site's time zone, to the second."""
    return local_exact(moment, tz).replace(microsecond=0)


_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def rfc822(moment: datetime, tz: ZoneInfo) -> str:
    """RFC 822 date with English day and month names whatever the locale: the text of
    `email.utils.format_datetime`, written out here because that goes through
    `timetuple` and `strftime("%z")` for every entry of a build.

    `strftime("%a")` (and feedgen, which calls `locale.setlocale` around it,
    process-wide) is avoided on purpose.
    """
    shown = local(moment, tz)
    offset = shown.utcoffset()
    if offset is None:  # pragma: no cover - `local` always gives an aware datetime
        return format_datetime(shown)
    seconds = int(offset.total_seconds())
    sign = "-" if seconds < 0 else "+"
    hours, rest = divmod(abs(seconds), 3600)
    minutes, rest = divmod(rest, 60)
    # Local mean time offsets (before the 1890s) have seconds, which %z writes too.
    zone = f"{sign}{hours:02d}{minutes:02d}" + (f"{rest:02d}" if rest else "")
    return (
        f"{_DAY_NAMES[shown.weekday()]}, {shown.day:02d} {_MONTH_NAMES[shown.month - 1]}"
        f" {shown.year:04d} {shown.hour:02d}:{shown.minute:02d}:{shown.second:02d} {zone}"
    )


def rfc3339(moment: datetime, tz: ZoneInfo) -> str:
    return local(moment, tz).isoformat()


def rfc3339_exact(moment: datetime, tz: ZoneInfo) -> str:
    """RFC 3339 keeping the fraction of a second the store holds (Atom dates): articles
    from files written within the same second still get different dates."""
    return local_exact(moment, tz).isoformat()


def updated_of(article: StoredArticle) -> datetime:
    """The entry's `updated`, never earlier than its `published` (some sources disagree)."""
    return max(article.updated, article.published)


def newest_update(articles: Sequence[StoredArticle]) -> datetime:
    """The feed-level date: the newest `updated` among its items, never the clock."""
    if not articles:
        return EMPTY_FEED_DATE
    return max(updated_of(a) for a in articles)


# Digits after the microseconds in an Atom `updated`, taken from the article's id.
_TIE_DIGITS = 3
_TIE_MODULO = 10**_TIE_DIGITS


def _tie_key(article: StoredArticle) -> tuple[datetime, int]:
    return updated_of(article), article.id % _TIE_MODULO


def atom_updated(article: StoredArticle, tz: ZoneInfo) -> str:
    """The Atom `updated` of an article: its date to the microsecond, then three more
    digits (nanoseconds) from its id.

    Articles can share a stored date to the microsecond: files written within one tick of
    the file system's clock, a batch of edits stored together, a source giving many items
    one date. Two entries of a document with the same `updated` are what the W3C validator
    warns about; the extra digits set them apart without moving any date across a
    microsecond, so articles stored at different times keep their order. RFC 3339 allows
    any number of fractional digits, and feed readers read nanoseconds (or drop them).
    """
    moment, tie = _tie_key(article)
    shown = local_exact(moment, tz)
    whole = shown.replace(microsecond=0).isoformat()  # "YYYY-MM-DDTHH:MM:SS+HH:MM"
    return f"{whole[:19]}.{shown.microsecond:06d}{tie:0{_TIE_DIGITS}d}{whole[19:]}"


def newest_atom_updated(articles: Sequence[StoredArticle], tz: ZoneInfo) -> str:
    """The Atom feed's `updated`: that of its newest entry (`atom_updated`), never the clock."""
    if not articles:
        return local(EMPTY_FEED_DATE, tz).isoformat()
    return atom_updated(max(articles, key=_tie_key), tz)


# Attributes holding one URL, and `srcset`, which holds a comma-separated list of
# "URL descriptor" candidates.
_URL_ATTRIBUTES = ("href", "src", "poster", "cite")
# A cheap pre-check: most content has no relative URL at all, and then its text is passed
# through untouched (no parse, no re-serialization that could move bytes around).
_MAYBE_RELATIVE = re.compile(
    r"""\b(?:href|src|srcset|poster|cite)\s*=\s*["']?(?!https?://|mailto:|tel:|data:)""",
    re.IGNORECASE,
)


_URL_NAMES = ("href", "src", "poster", "cite")  # "srcset" contains "src"


def _may_have_urls(fragment: str) -> bool:
    """A plain substring test before the regex: the regex (case-insensitive, anchored on
    `\\b`) tries a match at every position and cost a tenth of a full build; most content
    holds none of these names at all."""
    if "=" not in fragment:  # no attribute at all (bare paragraphs): no copy, one scan
        return False
    lowered = fragment.lower()
    return any(name in lowered for name in _URL_NAMES)


def _absolute(value: str, base: str) -> str:
    value = value.strip()
    return urljoin(base, value) if value else value


def _absolute_srcset(value: str, base: str) -> str:
    candidates = []
    for candidate in value.split(","):
        parts = candidate.split()
        if parts:
            candidates.append(" ".join([_absolute(parts[0], base), *parts[1:]]))
    return ", ".join(candidates)


def absolute_html(fragment: str, base: str) -> str:
    """`fragment` with every `href`/`src`/`srcset` (and `poster`, `cite`) made absolute.

    Feed readers show content away from the article's page, where a relative link or image
    would point at the reader's own host (or nowhere). URLs are resolved against `base`:
    the article's URL, else the site's page.
    """
    if not fragment or not _may_have_urls(fragment) or not _MAYBE_RELATIVE.search(fragment):
        return fragment
    try:
        root = lxml_html.fragment_fromstring(fragment, create_parent="div")
    # AssertionError: lxml wants one <body>, and an <html> start tag alone makes none.
    except (etree.ParserError, ValueError, AssertionError):
        return fragment
    changed = False
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue  # comments and processing instructions
        for name in _URL_ATTRIBUTES:
            value = element.get(name)
            if value is not None:
                fixed = _absolute(value, base)
                if fixed != value:
                    element.set(name, fixed)
                    changed = True
        srcset = element.get("srcset")
        if srcset is not None:
            fixed = _absolute_srcset(srcset, base)
            if fixed != srcset:
                element.set("srcset", fixed)
                changed = True
    if not changed:
        return fragment
    # The wrapper's children (each with its tail) and its leading text, escaped again.
    parts = [escape(root.text, quote=False)] if root.text else []
    parts += [lxml_html.tostring(child, encoding="unicode") for child in root]
    return "".join(parts)


def _url_attribute_filter(element: str, attribute: str, value: str) -> str | None:
    # nh3 checks the scheme of href/src only: `cite` and `srcset` are checked here, so no
    # javascript: or data: URL gets through them.
    if attribute == "cite" and not value.lower().startswith(("http://", "https://")):
        return None
    if attribute == "srcset":
        urls = [part.strip().split(" ")[0].lower() for part in value.split(",") if part.strip()]
        if any(
            ":" in url.split("/")[0] and not url.startswith(("http:", "https:")) for url in urls
        ):
            return None
    return value


_PUBLISH_ATTRIBUTES = {tag: set(names) for tag, names in nh3.ALLOWED_ATTRIBUTES.items()}
# Responsive images keep their sources (made absolute by `absolute_html`).
_PUBLISH_ATTRIBUTES["img"] = _PUBLISH_ATTRIBUTES.get("img", set()) | {"srcset", "sizes"}


# Ingest sanitizes every article before storing it (`ingest.article.sanitize_html`); this
# second pass, with the same rules, guarantees that what is published never carries a
# script even if a row was written by an older release or by hand.
_PUBLISH_CLEANER = nh3.Cleaner(
    url_schemes={"http", "https", "mailto"},
    attributes=_PUBLISH_ATTRIBUTES,
    attribute_filter=_url_attribute_filter,
    link_rel="noopener noreferrer",
)
# The same rules without the filter, tried first: nh3 cleans without the GIL but calls
# the filter back with it for every attribute, and during a build the writer threads
# often hold it. Its output spells every attribute ` name="value"` in lower case, so when
# it holds neither attribute the filter looks at, the filter would have changed nothing.
_PUBLISH_CLEANER_UNFILTERED = nh3.Cleaner(
    url_schemes={"http", "https", "mailto"},
    attributes=_PUBLISH_ATTRIBUTES,
    link_rel="noopener noreferrer",
)


ALSO_ON = "Anche su"


def also_on_html(article: StoredArticle) -> str:
    """ "Anche su: <a>Fonte B</a>, <a>Fonte C</a>." naming the other sources that brought
    the same story (cross-source duplicates stored once), or "" when there are none.

    A sentence at the end of the content, because that is what every feed reader shows;
    the Atom `related` links and the JSON Feed `_rassegna.sources` carry the same for
    programs."""
    names = []
    for ref in article.also_on:
        name = escape(one_line(ref.name) or ref.slug, quote=False)
        if ref.url and is_web_url(ref.url):
            names.append(f'<a href="{escape(ref.url)}">{name}</a>')
        else:
            names.append(name)
    return f"<p>{ALSO_ON}: {', '.join(names)}.</p>" if names else ""


# Text outside the tags: at the start, or right after a tag's ">". Searched, not matched
# in full, so content with any text at all is told at its first words.
_TEXT_OUTSIDE_TAGS = re.compile(r"(?:^|>)\s*[^<\s]")
# Elements that show something with no text: content made only of these is not blank.
_SHOWS_WITHOUT_TEXT = re.compile(
    r"<(?:img|picture|video|audio|iframe|object|embed|svg|math|canvas)\b", re.IGNORECASE
)


def is_blank_html(fragment: str) -> bool:
    """Whether HTML shows nothing: empty, only spaces, or only empty elements (what is
    left of content whose every part was removed when it was sanitized)."""
    if not fragment.strip():
        return True
    if _TEXT_OUTSIDE_TAGS.search(fragment):
        return False
    return _SHOWS_WITHOUT_TEXT.search(fragment) is None


def content_of(article: StoredArticle, site_link: str) -> str:
    """The article's HTML (with `also_on_html` after it), sanitized again, cleaned for
    XML and with absolute URLs; "" when it shows nothing (`is_blank_html`), so that feeds
    leave the element out instead of publishing blank content."""
    cleaned = published_html(article.content_html + also_on_html(article), article.url or site_link)
    return "" if is_blank_html(cleaned) else cleaned


def published_html(fragment: str, base: str) -> str:
    """`fragment` sanitized for publishing, cleaned for XML, with absolute URLs."""
    fragment = clean_text(fragment)
    cleaned = _PUBLISH_CLEANER_UNFILTERED.clean(fragment)
    if ' cite="' in cleaned or ' srcset="' in cleaned:
        cleaned = _PUBLISH_CLEANER.clean(fragment)
    return absolute_html(cleaned, base)

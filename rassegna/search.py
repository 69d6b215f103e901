"""Search for people: the `rassegna search` output, the server's `/cerca` Atom feed and its
`/ricerca` HTML page.

The query language and the databases' side are in `db.search`; this module only presents
results. `/cerca?q=...` is a feed a reader can subscribe to (as WordPress's `?s=...&feed=`):
its answers are cached, keyed by the query, the newest article id and the store's hidden
revision, so a poll that repeats a query while nothing changed costs one read of two
primary keys. A new article, or articles hidden or shown again by `rassegna rules apply`
(`--undo`) in another process, make the next poll search again. `/ricerca?q=...` shows
the same results as an HTML page (the site's templates) with a search form, for people.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from markupsafe import Markup, escape
from rich.console import Console
from rich.table import Table
from rich.text import Text

from db.query import MAX_QUERY_CHARS, QueryError, parse_query
from db.records import SearchHit
from db.search import SNIPPET_CLOSE, SNIPPET_OPEN
from db.store import Store
from feeds.common import article_link, title_of
from feeds.pages import SearchHitView, Templates, iso, italian_datetime, render_search
from feeds.render import EntryCache, render_xml
from feeds.sections import FeedKind, FeedSpec
from feeds.site import SiteInfo
from rassegna.durations import parse_duration
from rassegna.errors import RassegnaError

FEED_RESULTS = 50
CACHE_ENTRIES = 256
SEARCH_PATH = FeedKind.SEARCH.value
PAGE_PATH = "ricerca"


def highlighted(snippet: str) -> Text:
    """A snippet with its matches in bold (markers removed), for rich."""
    out = Text()
    bold = False
    rest = snippet
    while rest:
        marker = SNIPPET_CLOSE if bold else SNIPPET_OPEN
        part, found, rest = rest.partition(marker)
        out.append(part, style="bold yellow" if bold else None)
        if not found:
            break
        bold = not bold
    return out


def plain(snippet: str) -> str:
    return snippet.replace(SNIPPET_OPEN, "").replace(SNIPPET_CLOSE, "")


def print_hits(hits: Sequence[SearchHit], console: Console | None = None) -> None:
    """The ranked results as a table: date, title and source, and the snippet."""
    console = console or Console()
    if not hits:
        console.print("No article matches.")
        return
    table = Table("#", "published", "title / snippet", "source", show_lines=True)
    for number, hit in enumerate(hits, 1):
        cell = Text(hit.title, style="bold")
        cell.append("\n")
        cell.append_text(highlighted(hit.snippet))
        table.add_row(
            str(number),
            hit.published.astimezone().strftime("%Y-%m-%d %H:%M"),
            cell,
            hit.source_name,
        )
    console.print(table)


def hits_json(hits: Sequence[SearchHit]) -> list[dict[str, object]]:
    return [
        {
            "id": hit.id,
            "uid": hit.uid,
            "title": hit.title,
            "url": hit.url,
            "source": hit.source_name,
            "source_slug": hit.source_slug,
            "category": hit.category.slug if hit.category else None,
            "published": hit.published.isoformat(),
            "rank": hit.rank,
            "snippet": hit.snippet,
        }
        for hit in hits
    ]


@dataclass(frozen=True, slots=True)
class _SearchSpec(FeedSpec):
    """The feed of one search: its self link and id are `/cerca?q=...`."""

    query_text: str = ""

    def path(self, filename: str) -> str:
        return f"{SEARCH_PATH}?{urlencode({'q': self.query_text})}"


class SearchFeed:
    """`query -> Atom bytes`, for `create_app(search=...)`; raises QueryError."""

    def __init__(self, store: Store, site: SiteInfo, *, results: int = FEED_RESULTS) -> None:
        self._store = store
        self._site = site
        self._results = results
        # (query, newest id, hidden revision) -> the Atom document
        self._cache: OrderedDict[tuple[str, int, int], bytes] = OrderedDict()
        self._lock = threading.Lock()
        self._entries = EntryCache(site)
        self._templates = Templates(site)

    def __call__(self, query: str) -> bytes:
        query = " ".join(query.split())
        parse_query(query)  # refuse a bad query (too long, ...) before touching the index
        key = (query, *self._store.search_stamp())
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return cached
        hits = self._store.search(query, limit=self._results)
        found = self._store.articles_by_ids(hit.id for hit in hits)
        articles = [found[hit.id] for hit in hits if hit.id in found]
        spec = _SearchSpec(
            kind=FeedKind.SEARCH,
            slug="",
            name=query,
            title=f"{self._site.title} – ricerca: {query}",
            description=f"Gli articoli che rispondono alla ricerca «{query}»",
            folder=SEARCH_PATH,
            query_text=query,
        )
        with self._lock:
            body = render_xml(self._site, spec, articles, self._entries).atom
            self._cache[key] = body
            while len(self._cache) > CACHE_ENTRIES:
                self._cache.popitem(last=False)
        return body

    def page(self, query: str) -> tuple[int, bytes]:
        """The HTML page of a search, with its HTTP status: 200 with the results (or only
        the form, for an empty query), 400 with the reason for a query it refuses."""
        query = " ".join(query.split())
        site = self._site

        def render(hits: Sequence[SearchHitView] = (), error: str = "") -> bytes:
            return render_search(
                self._templates,
                site,
                query=query,
                action=site.url(PAGE_PATH),
                feed=site.url(f"{SEARCH_PATH}?{urlencode({'q': query})}"),
                max_chars=MAX_QUERY_CHARS,
                hits=hits,
                error=error,
            )

        if not query:
            return 200, render()
        try:
            parse_query(query)
            hits = self._store.search(query, limit=self._results)
        except QueryError as exc:
            error = f"Ricerca non valida: {exc}"
            return 400, render(error=error)
        found = self._store.articles_by_ids(hit.id for hit in hits)
        views = [
            SearchHitView(
                title=title_of(found[hit.id]),
                href=article_link(found[hit.id], site.base_url, site.link),
                published_iso=iso(hit.published, site),
                published_text=italian_datetime(hit.published, site),
                source=hit.source_name,
                snippet=marked(hit.snippet),
            )
            for hit in hits
            if hit.id in found
        ]
        return 200, render(views)


def marked(snippet: str) -> Markup:
    """A snippet as HTML: its text escaped, its matches in `<mark>`."""
    out = Markup("")
    bold = False
    rest = snippet
    while rest:
        marker = SNIPPET_CLOSE if bold else SNIPPET_OPEN
        part, found, rest = rest.partition(marker)
        out += Markup("<mark>{}</mark>").format(part) if bold else escape(part)
        if not found:
            break
        bold = not bold
    return out


def search_since(value: str | None, now: datetime | None = None) -> datetime | None:
    """`--since 7d` as the earliest publication date; raises ValueError."""
    if value is None:
        return None
    return (now or datetime.now(UTC)) - timedelta(seconds=parse_duration(value))


def search_hits(
    store: Store,
    query: str,
    *,
    source: str | None,
    category: str | None,
    since: datetime | None,
    limit: int,
) -> list[SearchHit]:
    """`Store.search`, with a refused query as a user error (one sentence, exit 1)."""
    try:
        return store.search(query, source=source, category=category, since=since, limit=limit)
    except QueryError as exc:
        raise RassegnaError(f"search {query!r}: {exc}") from exc

"""The page of one article (`feeds.pages` has the templates and the shared view objects).

An article page shows the article (or, for an article with its own URL, an excerpt
linking to the original), its labels linking to their section pages, and the previous
and next article of its chain; its head carries OpenGraph, Twitter card and NewsArticle
JSON-LD. Each part of the view is made by a function of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

from db.records import StoredArticle
from db.store import label_slug
from feeds.common import (
    article_link,
    authors_of,
    has_own_url,
    is_web_url,
    one_line,
    page_url,
    published_html,
    summary_of,
    title_of,
    updated_of,
    web_image_of,
)
from feeds.pages import (
    Link,
    PageView,
    Sections,
    Templates,
    iso,
    italian_datetime,
    name_of,
    render_page,
    section_alternates,
    site_alternates,
)
from feeds.sections import FeedKind
from feeds.site import SiteInfo

_WORDS_PER_MINUTE = 200


@dataclass(frozen=True, slots=True)
class ArticleView:
    """What `article.html` shows of one article."""

    title: str
    standfirst: str
    authors: tuple[Link, ...]
    published_iso: str
    published_text: str
    updated_iso: str
    updated_text: str  # empty when it shows the same as the publication
    reading_minutes: int
    source: Link
    category: Link | None
    tags: tuple[Link, ...]
    topics: tuple[Link, ...]
    image: str | None
    image_alt: str
    body: Markup
    original: str | None
    also_on: tuple[Link, ...]
    previous: Link | None
    next: Link | None
    chain_label: str
    language: str | None
    json_ld: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Labels:
    """The article's title and description (each cleaned once: several parts of the page
    show them) and its links to the sections it belongs to."""

    title: str
    standfirst: str
    description: str
    author_names: list[str]
    category: Link | None
    source: Link
    authors: tuple[Link, ...]
    tags: tuple[Link, ...]
    topics: tuple[Link, ...]


def _labels(
    site: SiteInfo, sections: Sections, article: StoredArticle, topics: Sequence[str]
) -> _Labels:
    category = None
    if article.category is not None:
        name = name_of(article.category.name) or article.category.slug
        category = sections.link(FeedKind.CATEGORY, article.category.slug, name)
    source_name = name_of(article.source_name) or article.source_slug
    standfirst = one_line(article.summary)
    names = authors_of(article)
    return _Labels(
        title=title_of(article),
        standfirst=standfirst,
        # `summary_of`, without cleaning the summary twice.
        description=standfirst or summary_of(article),
        author_names=names,
        category=category,
        source=sections.link(FeedKind.SOURCE, article.source_slug, source_name),
        authors=tuple(sections.link(FeedKind.AUTHOR, label_slug(name), name) for name in names),
        tags=tuple(
            sections.link(FeedKind.TAG, tag.slug, name_of(tag.name) or tag.slug)
            for tag in article.tags
        ),
        topics=tuple(
            sections.link(FeedKind.TOPIC, slug, topic)
            for slug in topics
            if (topic := sections.name(FeedKind.TOPIC, slug)) is not None
        ),
    )


def _json_ld(
    site: SiteInfo, article: StoredArticle, labels: _Labels, canonical: str, image: str | None
) -> dict[str, Any]:
    """The schema.org NewsArticle of the page."""
    json_ld: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": labels.title,
        "description": labels.description,
        "datePublished": iso(article.published, site),
        "dateModified": iso(updated_of(article), site),
        "author": [{"@type": "Person", "name": name} for name in labels.author_names]
        or [{"@type": "Organization", "name": name_of(site.author_name)}],
        "publisher": {
            "@type": "Organization",
            "name": name_of(site.title),
            "url": site.url(""),
        },
        "inLanguage": "it",
        "mainEntityOfPage": {"@type": "WebPage", "@id": canonical},
        "url": canonical,
    }
    if image:
        json_ld["image"] = [image]
    if labels.category is not None:
        json_ld["articleSection"] = labels.category.text
    return json_ld


def _neighbour(site: SiteInfo, article: StoredArticle | None) -> Link | None:
    if article is None:
        return None
    return Link(title_of(article), article_link(article, site.base_url, site.link))


def _page_view(
    site: SiteInfo, sections: Sections, article: StoredArticle, labels: _Labels, canonical: str
) -> PageView:
    """The head and breadcrumbs: the site's feeds, then its category's."""
    title = labels.title
    alternates = site_alternates(site)
    crumbs = [Link("Home", site.url(""))]
    if article.category is not None and labels.category is not None:
        spec = sections.specs.get((FeedKind.CATEGORY, article.category.slug))
        if spec is not None:
            alternates += section_alternates(site, spec)
        crumbs.append(labels.category)
    crumbs.append(Link(title))
    return PageView(
        head_title=f"{title} – {name_of(site.title)}",
        description=labels.description,
        canonical=canonical,
        alternates=alternates,
        breadcrumbs=tuple(crumbs),
        noindex=has_own_url(article),
    )


def render_article(
    templates: Templates,
    site: SiteInfo,
    sections: Sections,
    article: StoredArticle,
    *,
    previous: StoredArticle | None = None,
    following: StoredArticle | None = None,
    topics: Sequence[str] = (),
) -> bytes:
    """The page of one article (or, for an article with its own URL, its excerpt page)."""
    original = article.url if has_own_url(article) else None
    canonical = original or page_url(site.base_url, article.page_path)
    labels = _labels(site, sections, article, topics)
    title = labels.title
    published_text = italian_datetime(article.published, site)
    updated = updated_of(article)
    updated_text = italian_datetime(updated, site)
    words = len(article.content_text.split())
    # Only a web image is published: a file:// image names a path of this server.
    image = web_image_of(article)
    chain = labels.category.text if labels.category is not None else labels.source.text
    view = ArticleView(
        title=title,
        standfirst=labels.standfirst,
        authors=labels.authors,
        published_iso=iso(article.published, site),
        published_text=published_text,
        updated_iso=iso(updated, site),
        updated_text=updated_text if updated_text != published_text else "",
        reading_minutes=max(1, -(-words // _WORDS_PER_MINUTE)),
        source=labels.source,
        category=labels.category,
        tags=labels.tags,
        topics=labels.topics,
        image=image,
        image_alt=f"Immagine dell'articolo: {title}",
        # Relative URLs resolve as in the feeds: against the article's URL, else the site.
        body=Markup(published_html(article.content_html, article.url or site.link)),  # noqa: S704
        original=original,
        also_on=tuple(
            Link(name_of(ref.name) or ref.slug, ref.url if is_web_url(ref.url) else None)
            for ref in article.also_on
        ),
        previous=_neighbour(site, previous),
        next=_neighbour(site, following),
        chain_label=(
            f"della categoria {chain}" if labels.category is not None else f"della fonte {chain}"
        ),
        language=article.language if article.language not in (None, site.language) else None,
        json_ld=_json_ld(site, article, labels, canonical, image),
    )
    page = _page_view(site, sections, article, labels, canonical)
    return render_page(templates, site, "article.html", page, article=view)

"""Issue #10: articles stored before the search revision (0004) are back-filled into the
full-text index when the database is upgraded, on SQLite (FTS5 rows written by Python)
and on PostgreSQL (`search_vector` computed by the trigger)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import Connection, text

from db.engine import make_engine
from db.migrate import current_revision, head_revision, upgrade
from db.store import Store

BEFORE_SEARCH = "0003"
"""The revision just before `0004_search`, which creates and back-fills the index."""
WHEN = datetime(2024, 6, 19, 9, 0, tzinfo=UTC)

# (guid, title, summary, body, authors JSON, category slug, tag slugs)
OLD_ARTICLES = (
    (
        "citta",
        "Traffico in città, il sindaco chiude il centro",
        "Domenica senza auto.",
        "Le strade dell’Università restano aperte ai pedoni.",
        '["Giulia Ferraris"]',
        "cronaca",
        ("viabilita",),
    ),
    (
        "voto",
        "Le elezioni comunali di giugno",
        "Si vota domenica e lunedì.",
        "I seggi saranno aperti fino alle ventitré; l'affluenza è attesa in calo.",
        "[]",
        "politica",
        (),
    ),
    (
        "derby",
        "Derby all'ultimo minuto",
        "",
        "La squadra di casa vince.",
        "[]",
        None,
        ("calcio", "stracittadina"),
    ),
)
CATEGORIES = {"cronaca": "Cronaca", "politica": "Politica"}
TAGS = {"viabilita": "Viabilità", "calcio": "Calcio", "stracittadina": "Stracittadina"}


def _moment(connection: Connection) -> str:
    # Written as each database holds a UTC instant: SQLAlchemy's SQLite DateTime text
    # (naive UTC, what `db.types.UTCDateTime` reads back), an explicit offset elsewhere.
    if connection.dialect.name == "sqlite":
        return WHEN.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    return WHEN.isoformat()


def _insert_old_articles(connection: Connection) -> None:
    """The rows an older release stored, written with plain SQL (no model of today's)."""
    when = _moment(connection)
    connection.execute(
        text(
            "INSERT INTO sources (id, name, slug, kind, location, interval_seconds,"
            " created_at, consecutive_errors)"
            " VALUES (1, 'Agenzia', 'agenzia', 'files', '/tmp/agenzia', 600, :when, 0)"
        ),
        {"when": when},
    )
    connection.execute(
        text("INSERT INTO categories (id, name, slug) VALUES (:id, :name, :slug)"),
        [
            {"id": k, "name": name, "slug": slug}
            for k, (slug, name) in enumerate(CATEGORIES.items(), 1)
        ],
    )
    connection.execute(
        text("INSERT INTO tags (id, name, slug) VALUES (:id, :name, :slug)"),
        [{"id": k, "name": name, "slug": slug} for k, (slug, name) in enumerate(TAGS.items(), 1)],
    )
    category_ids = {slug: k for k, slug in enumerate(CATEGORIES, 1)}
    tag_ids = {slug: k for k, slug in enumerate(TAGS, 1)}
    for article_id, (guid, title, summary, body, authors, category, tags) in enumerate(
        OLD_ARTICLES, 1
    ):
        connection.execute(
            text(
                "INSERT INTO articles (id, uid, source_id, guid, url, title, summary,"
                " content_html, content_text, authors, category_id, published, updated,"
                " ingested, language, content_hash, slug)"
                " VALUES (:id, :uid, 1, :guid, NULL, :title, :summary, :html, :body,"
                " :authors, :category, :when, :when, :when, 'it', 'h', :guid)"
            ),
            {
                "id": article_id,
                "uid": f"urn:uuid:{uuid.UUID(int=article_id)}",
                "guid": guid,
                "title": title,
                "summary": summary,
                "html": f"<p>{body}</p>",
                "body": body,
                "authors": authors,
                "category": category_ids[category] if category else None,
                "when": when,
            },
        )
        for tag in tags:
            connection.execute(
                text(
                    "INSERT INTO article_tags (article_id, tag_id, published)"
                    " VALUES (:article, :tag, :when)"
                ),
                {"article": article_id, "tag": tag_ids[tag], "when": when},
            )
    if connection.dialect.name == "postgresql":
        # Explicit ids, as a dump restore would leave them: later inserts must not collide.
        for name in ("sources", "categories", "tags", "articles"):
            connection.execute(text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), 100)"))


def titles(store: Store, query: str, **filters: str) -> set[str]:
    return {hit.title for hit in store.search(query, **filters)}  # type: ignore[arg-type]


def test_articles_stored_before_the_search_revision_are_found_after_upgrade(
    bare_url: str,
) -> None:
    engine = make_engine(bare_url)
    try:
        upgrade(engine, BEFORE_SEARCH)
        assert current_revision(engine) == BEFORE_SEARCH
        with engine.begin() as connection:
            _insert_old_articles(connection)
        before, after = upgrade(engine)
        assert (before, after) == (BEFORE_SEARCH, head_revision())
    finally:
        engine.dispose()

    store = Store.open(bare_url, migrate=False)  # the migration alone did the back-fill
    try:
        traffic, vote, derby = (row[1] for row in OLD_ARTICLES)
        # Accent-insensitive both ways, and stemmed (elezione/elezioni, votare/vota).
        assert titles(store, "citta") == {traffic}
        assert titles(store, "CITTÀ") == {traffic}
        assert titles(store, "universita") == {traffic}
        assert titles(store, "elezione") == {vote}
        assert titles(store, "comunale") == {vote}
        assert titles(store, "l'affluenza") == {vote}
        # Author and tags are indexed too (tags from their own table).
        assert titles(store, "ferraris") == {traffic}
        assert titles(store, "stracittadina") == {derby}
        assert titles(store, "domenica") == {traffic, vote}
        assert titles(store, "domenica", category="politica") == {vote}
        assert titles(store, "domenica -sindaco") == {vote}
        assert titles(store, "pyongyang") == set()
        [hit] = store.search("votare")
        assert hit.title == vote and hit.source_slug == "agenzia"
        assert hit.snippet.startswith("Si **vota** domenica")
    finally:
        store.close()

"""The store: SQLAlchemy models, engine setup, migrations, and reading and writing articles.

`ingest` and `feeds` talk to it only through the dataclasses in `db.records` and the
`Store` class in `db.store`; ORM rows never leave this package.
"""

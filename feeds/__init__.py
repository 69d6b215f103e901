"""Publishing: which feeds exist, how they are rendered and how they are written.

`feeds.build.build_feeds` is the entry point: it reads the latest articles from a
`db.store.Store`, renders RSS 2.0 and Atom 1.0 (through our one feedgen wrapper,
`feeds.render`) and JSON Feed 1.1 (`feeds.jsonfeed`), plus `index.html` and `opml.xml`
(`feeds.index`, the home page from the templates of `feeds.pages`), and writes each file
atomically only when its bytes changed (`feeds.publish`). `feeds.sitebuild.build_pages`
then writes the site's article and section pages (`feeds.pages`, Jinja2 templates in
`feeds/templates/`), `sitemap.xml`, `sitemap-news.xml` (`feeds.sitemaps`) and
`robots.txt` the same way. This package may import `db` but never `ingest` or `rassegna`.
"""

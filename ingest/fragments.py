"""What lxml.html raises for HTML it cannot read: the passes that parse a fragment or a page
catch these and keep their input as it is."""

from __future__ import annotations

from typing import Final

import lxml.etree

# AssertionError: lxml.html's fragment parsers assert that libxml2 made exactly one <body>,
# and a fragment holding only an <html> start tag (`<html lang="it">`) makes none.
UNREADABLE_HTML: Final = (lxml.etree.ParserError, ValueError, AssertionError)

"""A big RSS 2.0 or Atom document cut into small documents of a few items each, so that
feedparser reads them one at a time (or on several cores) instead of building one tree
of dicts for the whole document.

lxml's `iterparse` walks the document and each run of finished items is moved into a
copy of the document's shell (root and channel with the elements seen before the first
item: namespaces, `xml:lang`, `<language>`), serialized as a feed of its own; each item
is released as soon as it has been moved. The shell left at the end carries the
channel's own data.

Only well-formed documents without a DOCTYPE or `xml:base` are cut (anything else goes
to feedparser whole, which has its own recovery for broken feeds). The parser never
resolves entities, loads a DTD or touches the network, so it is not open to XXE or
entity expansion; `huge_tree` stays off (libxml2's limits on text nodes and depth
apply).
"""

from __future__ import annotations

import copy
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

_ATOM = "{http://www.w3.org/2005/Atom}"
_XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"


@dataclass(slots=True)
class SplitFeed:
    """A document cut into feeds of at most `chunk_items` items each, in order, and its
    shell (every element but the items); `dropped` items past the limit were left out."""

    chunks: list[bytes] = field(default_factory=list)
    shell: bytes = b""
    dropped: int = 0


class _Cutter:
    """The state of one walk over a document (see `split_xml_feed`)."""

    def __init__(self, chunk_items: int, limit: int) -> None:
        self.chunk_items = chunk_items
        self.limit = limit
        self.root: Any = None
        self.container: Any = None  # the element whose children are the items
        self.item_tag = ""
        self.shell: Any = None
        self.batch: Any = None
        self.pending = 0
        self.taken = 0
        self.out = SplitFeed()

    def start(self, element: Any) -> bool:
        """Take note of an opening tag; False when the document cannot be cut exactly."""
        if self.root is None:
            self.root = element
            if element.getroottree().docinfo.doctype:
                return False
            if element.tag == "rss":
                self.item_tag = "item"
            elif element.tag == f"{_ATOM}feed":
                self.container, self.item_tag = element, f"{_ATOM}entry"
            else:
                return False
        elif self.container is None and element.tag == "channel":
            if element.getparent() is not self.root:
                return False
            self.container = element
        return _XML_BASE not in element.attrib

    def end(self, element: Any) -> None:
        """Move a finished item into the current chunk (or drop it past the limit)."""
        if element.tag != self.item_tag or element.getparent() is not self.container:
            return
        if self.taken >= self.limit:
            self.out.dropped += 1
            self.container.remove(element)  # released at once: no tree of 100,000 items
            return
        self.taken += 1
        if self.shell is None:
            self.shell = copy.deepcopy(self.root)
            for item in self._items_of(self.shell).findall(self.item_tag):
                self._items_of(self.shell).remove(item)
        if self.batch is None:
            self.batch = copy.deepcopy(self.shell)
        self._items_of(self.batch).append(element)
        self.pending += 1
        if self.pending >= self.chunk_items:
            self.flush()

    def flush(self) -> None:
        if self.batch is not None:
            self.out.chunks.append(_serialize(self.batch))
        self.batch, self.pending = None, 0

    def _items_of(self, copied_root: Any) -> Any:
        return copied_root if self.container is self.root else copied_root.find("channel")

    def finish(self) -> SplitFeed | None:
        if self.root is None or self.container is None:
            return None
        self.flush()
        self.out.shell = _serialize(self.root)
        return self.out


def _serialize(element: Any) -> bytes:
    return bytes(etree.tostring(element, xml_declaration=True, encoding="utf-8"))


class FeedCut:
    """One walk over `xml` (UTF-8) that hands over its pieces as they are cut
    (`pieces`), so that they can be read while the rest is still being cut; once the
    walk is over, `result` is what `split_xml_feed` returns (its `chunks` left empty:
    they went to the caller). A document found not to be cuttable after some pieces were
    handed over has `result` None all the same, and those pieces must be discarded."""

    def __init__(self, xml: bytes, *, chunk_items: int, limit: int) -> None:
        self._xml = xml
        self._cutter = _Cutter(chunk_items, limit)
        self.result: SplitFeed | None = None

    def pieces(self) -> Iterator[bytes]:
        events = etree.iterparse(
            io.BytesIO(self._xml),
            events=("start", "end"),
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            huge_tree=False,
            remove_pis=True,
        )
        cutter, cut = self._cutter, self._cutter.out.chunks
        try:
            for event, element in events:
                if event == "end":
                    cutter.end(element)
                    if cut:
                        yield cut.pop()
                elif not cutter.start(element):
                    return
        except etree.XMLSyntaxError:
            return
        self.result = cutter.finish()
        if self.result is not None and cut:
            yield cut.pop()


def split_xml_feed(xml: bytes, *, chunk_items: int, limit: int) -> SplitFeed | None:
    """`xml` (UTF-8) cut into feeds of `chunk_items` items, or None when it is not an RSS
    2.0 or Atom document this can cut so that reading the pieces gives exactly what
    reading it whole would.

    Items past the first `limit` are only counted and released: the rest of the document
    is still checked to be well-formed and read for the channel, so what a reader
    reports does not depend on the route taken.
    """
    cut = FeedCut(xml, chunk_items=chunk_items, limit=limit)
    chunks = list(cut.pieces())
    if cut.result is not None:
        cut.result.chunks = chunks
    return cut.result

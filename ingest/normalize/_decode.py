"""Bytes to text for the normalizer: a byte-order mark decides, else valid UTF-8, else the
declared charset (Latin-1 read as cp1252, as browsers do), else cp1252."""

from __future__ import annotations

import codecs
from typing import Final

_BOMS: Final = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE: it starts with the same bytes
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Browsers (WHATWG Encoding) read a declared Latin-1 as cp1252: publishers who declare it
# nearly always mean Windows-1252, whose curly quotes live where Latin-1 has C1 controls.
_AS_CP1252: Final = frozenset({"latin_1", "iso8859_1", "ascii", "cp1252"})


def decode_bytes(data: bytes, declared: str | None = None) -> str:
    """Decode raw bytes: strip a BOM; UTF-8, else cp1252, else Latin-1.

    A BOM decides the encoding. Otherwise valid UTF-8 wins even over a declared charset
    (a page that decodes as UTF-8 is UTF-8 whatever its header says); then the declared
    charset, with ISO-8859-1 read as cp1252; then cp1252; Latin-1 never fails.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data[len(bom) :].decode(encoding, errors="replace")
    candidates: list[str] = []
    declared_name: str | None = None
    if declared:
        try:
            declared_name = codecs.lookup(declared.strip()).name.replace("-", "_")
        except LookupError:
            declared_name = None
    if declared_name is not None and declared_name.startswith(("utf_16", "utf_32")):
        # Not ASCII-compatible: UTF-8 would "succeed" on its ASCII bytes and NULs.
        candidates.append(declared_name)
    candidates.append("utf-8")
    if declared_name is not None:
        candidates.append("cp1252" if declared_name in _AS_CP1252 else declared_name)
    candidates.append("cp1252")
    for encoding in candidates:
        try:
            return data.decode(encoding).removeprefix("\ufeff")
        except (UnicodeDecodeError, LookupError):
            continue
    return data.decode("latin-1")

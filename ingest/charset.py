"""Decoding the bytes of a remote document, or of a local article file, into text.

For a document the order is: a BOM, then valid UTF-8, then the HTTP charset, then the XML
or HTML declaration, then detection with charset-normalizer. The first steps (and reading a
declared ISO-8859-1 as cp1252) are `ingest.normalize.decode_bytes`; this module only finds
the declared charset and, when nothing is declared, asks charset-normalizer. Double-encoded
UTF-8 ("Ã¨" for "è") decodes as valid UTF-8 and is repaired by the normalizer (ftfy).

A local file declares nothing: it is UTF-8 (a BOM or not), else Windows-1252 unless its
bytes look binary (`decode_text_file`).
"""

from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes

from ingest.normalize import decode_bytes

_XML_DECL_RE = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""")
_META_CHARSET_RE = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.I)
_BOMS = (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
SNIFF_BYTES = 4096
# C0 controls other than tab, line and page breaks, and DEL.
_CONTROL_BYTES_RE = re.compile(rb"[\x00-\x08\x0e-\x1f\x7f]")
_DETECT_BYTES = 64 * 1024  # what charset-normalizer reads: its time grows with the input
_LATIN_FAMILY = ("cp125", "latin", "iso8859", "mac-", "cp437", "cp850", "ascii")


def declared_in_document(data: bytes) -> str | None:
    """The charset an XML declaration or an HTML `<meta>` names, if any."""
    head = data[:SNIFF_BYTES]
    match = _XML_DECL_RE.match(head) or _META_CHARSET_RE.search(head)
    return match.group(1).decode("ascii") if match else None


def _known(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def decode_document(data: bytes, http_charset: str | None = None) -> tuple[str, str]:
    """The text of a document and the name of the rule that decided (for the log)."""
    if data.startswith(_BOMS):
        return decode_bytes(data), "bom"
    if _is_utf8(data):
        return decode_bytes(data), "utf-8"
    declared = _known(http_charset)
    if declared:
        return decode_bytes(data, declared), f"http:{declared}"
    declared = _known(declared_in_document(data))
    if declared:
        return decode_bytes(data, declared), f"declared:{declared}"
    best = from_bytes(data[:_DETECT_BYTES]).best()
    guess = _known(best.encoding) if best is not None else None
    # Detection on short Western text often lands on a sibling single-byte code page
    # (cp1258, iso8859-15, mac-roman...) that differs exactly on accented letters; for
    # Italian news cp1252 is by far the likeliest of that family.
    if guess is None or guess.startswith(_LATIN_FAMILY):
        guess = "cp1252"
    return decode_bytes(data, guess), f"detected:{guess}"


def decode_text_file(data: bytes) -> str | None:
    """The text of a local file: UTF-8 (a UTF-8 BOM is dropped), else Windows-1252 unless
    the bytes look binary; None when they do.

    Bytes look binary when they hold control codes that text does not (NUL, ESC, DEL...)
    and charset-normalizer finds no text in them either. Its judgement alone is not
    enough: on a few short lines it may find no encoding at all (`€ città` and the like),
    and a file of printable bytes is text. Detection never picks the code page: on a line
    or two of Italian it names a sibling (cp1250, even cp1006 for "Caffè") as readily as
    cp1252, and a file that is not UTF-8 on an Italian newsroom's disk is, in practice, an
    older Windows editor's cp1252 or Latin-1, whose letters cp1252 reads the same.
    """
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        pass
    head = data[:_DETECT_BYTES]
    if _CONTROL_BYTES_RE.search(head) and from_bytes(head).best() is None:
        return None
    return decode_bytes(data, "cp1252")


_CHAR_REF_RE = re.compile(r"&#(?:[xX]([0-9a-fA-F]+)|([0-9]+));")
_SURROGATE_RE = re.compile("[\ud800-\udfff]")


def _valid_xml_char(code: int) -> bool:
    return (
        code in (0x9, 0xA, 0xD)
        or 0x20 <= code <= 0xD7FF
        or 0xE000 <= code <= 0xFFFD
        or 0x10000 <= code <= 0x10FFFF
    )


def _safe_reference(match: re.Match[str]) -> str:
    hexa, decimal = match.groups()
    digits = (hexa or decimal).lstrip("0")
    if len(digits) > 8:  # beyond U+10FFFF anyway; int() of thousands of digits raises
        return "&#xFFFD;"
    code = int(hexa, 16) if hexa else int(decimal)
    return match.group(0) if _valid_xml_char(code) else "&#xFFFD;"


def as_utf8_xml(text: str) -> bytes:
    """UTF-8 bytes of an XML document whose declaration (if any) now says utf-8, so a
    parser that sniffs encodings itself reads it exactly as we decoded it.

    Character references to code points XML forbids (`&#xD800;`, `&#0;`) become U+FFFD:
    feedparser's lenient parser would otherwise produce a lone surrogate and crash on it.
    Lone surrogates in the text itself (decoded with errors="surrogateescape" or from
    UTF-16 junk) become U+FFFD as well.
    """
    text = _CHAR_REF_RE.sub(_safe_reference, text)
    text = _SURROGATE_RE.sub("\ufffd", text)
    fixed = re.sub(
        r"""^(\s*<\?xml[^>]*?encoding\s*=\s*)["'][^"']*["']""",
        r'\1"utf-8"',
        text,
        count=1,
    )
    return fixed.encode("utf-8")

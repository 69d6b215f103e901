"""Italian normalization: one normalizer every article passes through before it is stored.

Text rules (decoding, line breaks, HTML, mojibake, invisible characters, spaces,
apostrophes, elisions, accents typed as apostrophes, misspellings, quotes, dashes,
ellipsis, punctuation spacing, NFC) and metadata rules (dates, authors, categories, tags,
slugs, reading time, language). Every function is pure and never raises; the regexes are
linear-time.
"""

from ingest.normalize._autotags import auto_tags
from ingest.normalize._dates import parse_date
from ingest.normalize._decode import decode_bytes
from ingest.normalize._html import bare_paragraphs, paragraphs_text
from ingest.normalize._lang import declared_language, detect_language
from ingest.normalize._meta import (
    canonical_category,
    make_slug,
    normalize_authors,
    normalize_tags,
    reading_time,
    unique_slug,
)
from ingest.normalize._mojibake import (
    BADNESS_GATE,
    FTFY_CONFIG,
    SUSPICIOUS_RE,
    fix_mojibake,
    is_bad_segment,
)
from ingest.normalize._text import (
    extract_html_text,
    html_to_text,
    normalize_summary,
    normalize_text,
    normalize_title,
)

__all__ = [
    "BADNESS_GATE",
    "FTFY_CONFIG",
    "SUSPICIOUS_RE",
    "auto_tags",
    "bare_paragraphs",
    "canonical_category",
    "declared_language",
    "decode_bytes",
    "detect_language",
    "extract_html_text",
    "fix_mojibake",
    "html_to_text",
    "is_bad_segment",
    "make_slug",
    "normalize_authors",
    "normalize_summary",
    "normalize_tags",
    "normalize_text",
    "normalize_title",
    "paragraphs_text",
    "parse_date",
    "reading_time",
    "unique_slug",
]

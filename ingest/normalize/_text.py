"""The text rules of the Italian normalizer (bodies, titles, summaries, HTML fields).

Every function here is pure, never raises on any ``str`` input and uses only regexes
that run in linear time (possessive quantifiers, look-behind anchored starts), so a
hostile 100 KB field cannot stall the ingest pipeline.

Bytes are decoded by ``_decode``, mojibake repaired by ``_mojibake`` and HTML turned into
text by ``_html``; the rules here run on what they give.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable
from importlib.resources import files
from typing import Final

from ingest.normalize._html import html_text
from ingest.normalize._mojibake import LOST_A_GRAVE_RE, SUSPICIOUS_RE, fix_mojibake
from ingest.normalize._util import wordset

# ------------------------------------------- line breaks, invisible characters, spaces

# Performance note: ``re`` scans fast only for patterns that start with a literal or a
# character class, so the patterns below start that way and check their left context
# with a look-behind placed after the first character. Rules whose trigger characters
# are absent are skipped with cheap ``in`` tests: clean text pays for little.

# Line breaks: CRLF/CR/LS/PS/NEL and the two other characters str.splitlines() breaks on
# (VT, FF) become ``\n``.
_LINE_BREAK_RE: Final = re.compile(r"\r\n?|[\u2028\u2029\x85\x0b\x0c]")
# Invisible characters: soft hyphen, ZWSP, ZWNJ, word joiner, BOM/ZWNBSP, bidi marks,
# embeddings and isolates, invisible operators, plus C0 controls other than tab and
# newline (never meaningful text) and the noncharacters U+FFFE and U+FFFF (no XML document,
# so no feed, may hold them: lxml refuses to write them into a tree).
_INVISIBLE: Final = (
    "\u00ad\u200b\u200c\u2060\ufeff\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069"
    "\u2061-\u2064\x00-\x08\x0e-\x1f\x7f\ufffe\uffff"
)
_INVISIBLE_RE: Final = re.compile(f"[{_INVISIBLE}]+")
# A zero-width joiner glues emoji sequences (family, flags...): keep it only there.
_EMOJI: Final = "\u2600-\u27bf\u2b00-\u2bff\ufe0f\U0001f000-\U0001faff"
_STRAY_ZWJ_RE: Final = re.compile(f"\u200d(?<![{_EMOJI}]\u200d)|\u200d(?![{_EMOJI}])")
# Spaces: every horizontal space that is not U+0020 (tabs, NBSP, narrow/thin/figure spaces...).
_SPACES_RE: Final = re.compile("[\t\xa0\u1680\u2000-\u200a\u202f\u205f\u3000]")
_SPACE_RUN_RE: Final = re.compile(" {2,}")
# One scan tells whether any odd line break, invisible character or space occurs at all,
# another whether the look-alike quotes, apostrophes and dashes do; clean text skips all of those
# rules, and text whose only oddity is typographic quotes skips the layout ones.
LAYOUT_SPECIAL_RE: Final = re.compile(
    f"[\\r\u2028\u2029\x85\x0b\x0c{_INVISIBLE}\u200d\t\xa0\u1680\u2000-\u200a\u202f\u205f\u3000]"
)
_TYPO_SPECIAL_RE: Final = re.compile(
    "[\u2018\u2019\u201a\u201b\u02bc\u201c-\u201f\u2033\u2010-\u2012\u2212\ufe63\uff0d´`′]"
)

# ------------------------------------------------------------------------------ masking

# Before the typographic rules, URLs, e-mail addresses and `code spans` are replaced by
# one private-use character each (not a letter, not punctuation, so no rule touches it)
# and restored last.
_MASK_BASE: Final = 0xF0000
_MASK_LIMIT: Final = 0x10FFFE - _MASK_BASE
_MASK_CHARS_RE: Final = re.compile("[\U000f0000-\U0010ffff]")
# Greedy then backing off over trailing punctuation only (a URL does not end in ``.``):
# one start per URL and a bounded back-off, so still linear.
_URL_RE: Final = re.compile(
    '(?<![\\w/])(?:https?://|ftp://|www\\.)[^\\s<>"«»\U000f0000-\U0010ffff]*'
    "[^\\s<>\"«».,;:!?)\\]'’…\U000f0000-\U0010ffff]"
)
_EMAIL_RE: Final = re.compile(r"(?<![\w.+-])[\w.+-]++@[\w-]++(?:\.[\w-]++)++")
_CODE_RE: Final = re.compile(r"`(?<!\w`)(?=[^`\s])[^`\n]*+(?<=[^`\s])`(?!\w)")

# ------------------------------------------------------------------------- typography

_LETTER: Final = r"[^\W\d_]"
# Apostrophes and quotes: typographic single quotes and the modifier-letter apostrophe are always
# apostrophes or single quotes; canonical ``'``. Same for double quotes and ``"``.
_LOOK_ALIKES: Final = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u02bc": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
    # Hyphen look-alikes: hyphen, non-breaking hyphen, figure dash, minus, small
    # and full-width hyphen-minus.
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2212": "-", "\ufe63": "-",
    "\uff0d": "-",
}  # fmt: skip
_LOOK_ALIKE_RE: Final = re.compile(f"[{''.join(_LOOK_ALIKES)}]")
# Acute accent, backtick and prime are apostrophes only between two letters (``l´ultimo``).
_APOSTROPHE_LIKE_RE: Final = re.compile(f"[´`′](?<={_LETTER}[´`′])(?={_LETTER})")
# Elisions: elided forms after which a stray space is removed (``un' intesa`` -> ``un'intesa``).
_ELIDED: Final = wordset(
    "l un dell dall all nell sull coll pell quell quest bell sant buon nessun ciascun "
    "qualcun alcun c d m t s v n gl anch dov com cos senz tutt mezz grand nient quand "
    "sott ov"
)
# Every elided form ends in a consonant: matching only there skips ``e' `` (an accent
# typed as an apostrophe).
_ELISION_SPACE_RE: Final = re.compile(f"'(?<=[b-df-hj-np-tv-zB-DF-HJ-NP-TV-Z]') +(?={_LETTER}|\\d)")
# Accents typed as apostrophes: an apostrophe-like mark after a vowel, followed by a
# space, punctuation or the end: the word before it is a candidate.
_ACCENT_MARK_RE: Final = re.compile(r"['`´](?<=[aeiouAEIOU]['`´])(?=[\s.,;:!?)\]}»\"…/-]|$)")
# The word before a mark, found by a bounded forward search that must end at the mark
# (C speed, no Python loop); no Italian oxytone is anywhere near 40 letters long.
_LAST_WORD_RE: Final = re.compile(r"[^\W\d_]+\Z")
_LAST_WORD_WINDOW: Final = 40
# Short words of the hand-made list (the data file holds the longer ones).
_SHORT_ACCENTED: Final = {
    "e": "è", "ne": "né", "se": "sé", "si": "sì", "la": "là", "li": "lì", "gia": "già",
    "giu": "giù", "piu": "più", "puo": "può", "cio": "ciò", "cioe": "cioè", "pero": "però",
    "perche": "perché", "poiche": "poiché", "affinche": "affinché", "finche": "finché",
    "benche": "benché", "sicche": "sicché", "nonche": "nonché", "anziche": "anziché",
    "purche": "purché", "macche": "macché", "giacche": "giacché", "cosicche": "cosicché",
    "fuorche": "fuorché", "allorche": "allorché", "granche": "granché", "cosi": "così",
    "percio": "perciò", "pote": "poté", "gesu": "Gesù", "lassu": "lassù",
    "laggiu": "laggiù", "quaggiu": "quaggiù", "quassu": "quassù", "sara": "sarà",
    "avra": "avrà", "fara": "farà", "potra": "potrà", "dovra": "dovrà", "citta": "città",
    "eta": "età", "meta": "metà", "papa": "papà", "caffe": "caffè",
}  # fmt: skip
_ACCENT_SUFFIXES: Final = {
    "bilita": "bilità", "ivita": "ività", "alita": "alità", "icita": "icità",
    "arita": "arità", "osita": "osità",
}  # fmt: skip
# Misspellings (Italian only). Every ``-chè`` but ``lacchè``; lone ``nè``/``sè``;
# ``-trè`` compounds; ``pò``; a lone capital ``É`` (the verb, typed with the wrong accent).
_CHE_RE: Final = re.compile(f"[cC][hH][èÈ](?!{_LETTER})")
_NE_SE_RE: Final = re.compile(f"[nNsS](?<!{_LETTER}[nNsS])[èÈ](?!{_LETTER})")
_TRE_RE: Final = re.compile(f"[tT](?<={_LETTER}[tT])[rR][èÈ](?!{_LETTER})")
_PO_RE: Final = re.compile(f"[pP](?<!{_LETTER}[pP])ò(?![\\w'])")
# What each of the three ``è`` rules above needs (``hè``, ``nè``/``sè``, ``rè``): one scan
# instead of three on the many texts whose only ``è`` is the verb or ``perché``'s cousins.
# It starts at the accented letter, far rarer than the consonants, so ``re`` scans fast.
_MISSPELT_GRAVE_RE: Final = re.compile("[èÈ](?<=[hHnNsSrR][èÈ])")
_LONE_E_ACUTE_RE: Final = re.compile(f"É(?<!{_LETTER}É)(?!{_LETTER})")
# Guillemets without inner spaces.
_GUILLEMET_SPACE_RE: Final = re.compile(r"« +| +»")
# Dashes: spaced hyphen(s) or em/horizontal-bar dash between words -> spaced en dash.
# The space after the dash is a look-ahead, so ``a - - b`` converts both dashes at once.
_SPACED_DASH_RE: Final = re.compile(r" (?<=\S )(?:-{1,3}|[—―])(?= \S)")
# Ellipsis: three or more dots, spaced or not (``...``, ``. . .``, ``.. .``), become an
# ellipsis; the spaced forms too, or the punctuation spacing rule would close them up
# into a ``...`` for the next pass.
_ELLIPSIS_RE: Final = re.compile(r"\.(?: ?\.){2,}+")
# Punctuation spacing: no space before , ; : ! ? ) ] … and before a sentence-final ``.``
# (``.NET`` stays); none after ( and [.
_SPACE_BEFORE_PUNCT_RE: Final = re.compile(r" ++(?=[,;:!?)\]…]|\.(?![^\W_]))")
# Whether any of those spaces occurs: a space before one of the marks (one scan, from the
# marks, which are rarer than spaces).
_SPACE_BEFORE_PUNCT_TRIGGER_RE: Final = re.compile(r"[,;:!?)\]….](?<= [,;:!?)\]….])")
_SPACE_AFTER_OPEN_RE: Final = re.compile(r"(?<=[(\[]) ++")


def _load_oxytones() -> frozenset[str]:
    """Read the packaged list of longer oxytone words (for accents typed as apostrophes)."""
    try:
        text = files("ingest.data").joinpath("oxytones.txt").read_text(encoding="utf-8")
    except (OSError, ModuleNotFoundError):  # a broken install fixes fewer accents, never crashes
        return frozenset()
    return frozenset(line.strip() for line in text.splitlines() if line.strip() and line[0] != "#")


_OXYTONES: Final = _load_oxytones()
_STRIP_FINAL_ACCENT: Final = str.maketrans("àèéìòù", "aeeiou")
# unaccented word -> accented word, for the long list (built once, never mutated).
_LONG_ACCENTED: Final = {word.translate(_STRIP_FINAL_ACCENT): word for word in _OXYTONES}


def _match_case(word: str, model: str) -> str:
    """Give ``word`` the case pattern of ``model`` (``E`` -> ``È``, ``PERCHE`` -> ``PERCHÉ``)."""
    if model.isupper() and (len(model) > 1 or word.islower()):
        return word.upper()
    if model[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


def _accent_for(word: str) -> str | None:
    """The accented form of an unaccented vowel-final word, or None if unknown."""
    key = word.lower()
    accented = _SHORT_ACCENTED.get(key) or _LONG_ACCENTED.get(key)
    if accented is None:
        for suffix, replacement in _ACCENT_SUFFIXES.items():
            if key.endswith(suffix) and len(key) > len(suffix):
                accented = key[: -len(suffix)] + replacement
                break
    if accented is None:
        return None
    if accented[0].isupper():  # proper nouns in the list (``Gesù``) keep their capital
        return accented
    return _match_case(accented, word)


def _word_before(text: str, end: int) -> int:
    """Index where the run of letters ending at ``end`` starts."""
    start = end
    while start > 0 and text[start - 1].isalpha():
        start -= 1
    return start


def _fix_accents(text: str) -> str:
    """Accents typed as apostrophes: ``perche'`` -> ``perché`` for known words, case kept,
    quotes left alone."""
    parts: list[str] = []
    memo: dict[str, str | None] = {}  # per call: long inputs repeat the same few words
    last = 0
    for match in _ACCENT_MARK_RE.finditer(text):
        end = match.start()
        found = _LAST_WORD_RE.search(text, max(0, end - _LAST_WORD_WINDOW), end)
        if found is None:
            continue
        start = found.start()
        if start > 0 and text[start - 1].isalpha():
            continue  # longer than the window: not a word of the lists
        # ``'papa'``: the word follows an opening quote (an apostrophe with no letter
        # before it), so the mark after it closes the quotation. ``n'e'`` is an elision
        # followed by an accent and is fixed.
        if start >= 1 and text[start - 1] == "'" and (start < 2 or not text[start - 2].isalpha()):
            continue
        word = text[start:end]
        if word in memo:
            accented = memo[word]
        else:
            accented = memo[word] = _accent_for(word)
        if accented is None:
            continue
        parts.append(text[last:start])
        parts.append(accented)
        last = match.end()
    if not parts:
        return text
    parts.append(text[last:])
    return "".join(parts)


def _join_elision(match: re.Match[str]) -> str:
    """Elisions: drop the space in ``un' intesa`` when the word before is a known elided form."""
    text = match.string
    end = match.start()
    start = _word_before(text, end)
    if start == end or text[start:end].lower() not in _ELIDED:
        return match.group(0)
    if start >= 1 and (text[start - 1].isalnum() or text[start - 1] == "'"):
        return match.group(0)  # ``rock 'n' roll``: a quoted letter, not an elision
    return "'"


def _fix_che(match: re.Match[str]) -> str:
    text = match.string
    start = match.start()
    if text[max(0, start - 3) : start].lower() == "lac" and (
        start < 4 or not text[start - 4].isalpha()
    ):
        return match.group(0)  # ``lacchè`` keeps its grave accent
    return match.group(0)[:2] + ("É" if match.group(0)[2] == "È" else "é")


def _fix_acute(match: re.Match[str]) -> str:
    """``nè`` -> ``né``, ``trè`` -> ``tré``: swap a final grave for the acute accent."""
    found = match.group(0)
    return found[:-1] + ("É" if found[-1] == "È" else "é")


def _mask(text: str) -> tuple[str, list[str]]:
    has_url = "://" in text or "www." in text
    has_email = "@" in text
    has_code = "`" in text
    if not (has_url or has_email or has_code):
        return text, []
    if _MASK_CHARS_RE.search(text):
        # The input already uses our placeholder range (never seen in news text): leave
        # masking off rather than risk restoring the wrong span.
        return text, []
    spans: list[str] = []

    def keep(match: re.Match[str]) -> str:
        if len(spans) >= _MASK_LIMIT:
            return match.group(0)
        spans.append(match.group(0))
        return chr(_MASK_BASE + len(spans) - 1)

    # Code first: a URL inside a code span goes with the span (no nested placeholders).
    if has_code:
        text = _CODE_RE.sub(keep, text)
    if has_url:
        text = _URL_RE.sub(keep, text)
    if has_email:
        text = _EMAIL_RE.sub(keep, text)
    return text, spans


def _unmask(text: str, spans: list[str]) -> str:
    if not spans:
        return text
    return _MASK_CHARS_RE.sub(lambda m: spans[ord(m.group(0)) - _MASK_BASE], text)


def _is_italian(language: str | None) -> bool:
    return language is None or language.lower().startswith("it")


def _layout(text: str, *, special: bool, one_line: bool) -> str:
    """Line breaks, invisible characters, NFC, spaces and lines."""
    if special:
        text = _LINE_BREAK_RE.sub("\n", text)
        text = _INVISIBLE_RE.sub("", text)
        if "\u200d" in text:
            text = _STRAY_ZWJ_RE.sub("", text)
        text = _SPACES_RE.sub(" ", text)
    # NFC early too, so that the letter classes of the rules below see ``è`` as one letter
    # even in NFD input; the last rule repeats it at the end.
    text = unicodedata.normalize("NFC", text)
    if one_line:
        return one_line_spacing(text)
    if "  " in text:
        text = _SPACE_RUN_RE.sub(" ", text)
    if "\n" in text or text[:1] == " " or text[-1:] == " ":
        # Without a space beside a break or an empty line, only the edges need trimming.
        if " \n" in text or "\n " in text or "\n\n" in text:
            text = trim_lines(text)
        text = text.strip(" \n")
    return text


def one_line_spacing(text: str) -> str:
    """`" ".join(text.split())`: white space runs as one space, none at the edges.

    A printable text's only white space is U+0020 (tested): without a double space or an
    edge space it is its own answer, and checking that costs less than splitting it."""
    if text.isprintable() and "  " not in text and text[:1] != " " and text[-1:] != " ":
        return text
    return " ".join(text.split())


def trim_lines(text: str) -> str:
    """Every run of spaces and line breaks that holds a break becomes one break: lines
    lose their edge spaces and empty lines go. Split and join rather than one regex
    substitution, which tried a match at every character of a body."""
    return "\n".join([line for line in (part.strip(" ") for part in text.split("\n")) if line])


def _clean(text: str, *, one_line: bool, italian: bool) -> str:
    """The shared pipeline of the text rules (HTML excepted: that is :func:`html_to_text`).

    Later rules can bring mojibake fragments together (``Â`` + space + ``»`` loses its
    space to the guillemet rule and becomes ``Â»``, which ftfy repairs), so text that still looks
    suspicious after a pass gets another one, until nothing changes (at most three
    passes; clean text never pays for this).
    """
    result = _clean_once(text, one_line=one_line, italian=italian)
    for _ in range(2):
        if not SUSPICIOUS_RE.search(result):
            break
        again = _clean_once(result, one_line=one_line, italian=italian)
        if again == result:
            break
        result = again
    return result


def _clean_once(text: str, *, one_line: bool, italian: bool) -> str:
    """One pass of the text rules."""
    # Decoding, for text already decoded: a leading BOM; stray ones go with the invisible
    # characters.
    text = text.removeprefix("\ufeff")
    # Every character of the layout rules is unprintable (tested): a printable text,
    # as most titles and paragraphs are, has none, and str.isprintable runs at C speed.
    special = not text.isprintable() and LAYOUT_SPECIAL_RE.search(text) is not None
    text = _layout(text, special=special, one_line=one_line)
    # Mojibake is repaired on the laid-out text (and the layout is redone if ftfy changed anything):
    # ftfy reads ``Ã`` + space differently from ``Ã`` + newline, so fixing mojibake before
    # lines are joined would let a second pass find more to fix (not idempotent).
    # ``Ã`` is one of the suspicious characters: a text without them has none to look for.
    if SUSPICIOUS_RE.search(text):
        fixed = fix_mojibake(text)
        if fixed != text:
            special = special or LAYOUT_SPECIAL_RE.search(fixed) is not None
            text = _layout(fixed, special=special, one_line=one_line)
        if "Ã" in text:
            text = LOST_A_GRAVE_RE.sub("à", text)
    if not text:
        return text
    text, spans = _mask(text)
    # Look-alike apostrophes, quotes and dashes
    if _TYPO_SPECIAL_RE.search(text):
        text = _LOOK_ALIKE_RE.sub(lambda m: _LOOK_ALIKES[m.group(0)], text)
        text = _APOSTROPHE_LIKE_RE.sub("'", text)
    has_mark = "'" in text or "`" in text or "´" in text
    # Elisions
    if has_mark and " " in text:
        text = _ELISION_SPACE_RE.sub(_join_elision, text)
    if italian:
        # Accents typed as apostrophes
        if has_mark:
            text = _fix_accents(text)
        # Misspellings
        if ("è" in text or "È" in text) and _MISSPELT_GRAVE_RE.search(text):
            text = _CHE_RE.sub(_fix_che, text)
            text = _NE_SE_RE.sub(_fix_acute, text)
            text = _TRE_RE.sub(_fix_acute, text)
        if "pò" in text or "Pò" in text:
            text = _PO_RE.sub(lambda m: m.group(0)[0] + "o'", text)
        if "É" in text:
            text = _LONE_E_ACUTE_RE.sub("È", text)
    # Guillemets
    if "« " in text or " »" in text:
        text = _GUILLEMET_SPACE_RE.sub(lambda m: m.group(0).strip(" "), text)
    # Dashes
    if " -" in text or " —" in text or " ―" in text:
        text = _SPACED_DASH_RE.sub(" –", text)
    # Ellipsis
    if ".." in text or ". ." in text:
        text = _ELLIPSIS_RE.sub("…", text)
    # Punctuation spacing
    if _SPACE_BEFORE_PUNCT_TRIGGER_RE.search(text):
        text = _SPACE_BEFORE_PUNCT_RE.sub("", text)
    if "( " in text or "[ " in text:
        text = _SPACE_AFTER_OPEN_RE.sub("", text)
    text = _unmask(text, spans)
    # NFC, never NFKC (``1º``, ``m²``, ``½`` must survive).
    return unicodedata.normalize("NFC", text)


def _guarded(func: Callable[[str], str], text: str) -> str:
    """Run a pipeline; on an unexpected bug return the input instead of raising."""
    try:
        return func(text)
    except Exception:  # "never raises" is part of the contract; a bad field stays as is
        return text


def normalize_text(text: str, *, language: str | None = "it") -> str:
    """Normalize a body: one paragraph per line, no empty lines (every text rule).

    ``language`` is the article's language; the Italian-only rules (accents typed as apostrophes,
    misspellings) run only
    when it is Italian (``None`` means unknown and is treated as Italian, the site's
    language).
    """
    italian = _is_italian(language)
    return _guarded(lambda t: _clean(t, one_line=False, italian=italian), text)


def normalize_title(text: str, *, language: str | None = "it") -> str:
    """Normalize a title: like :func:`normalize_text`, on one line, and plain text
    (:func:`_plain_title`)."""
    italian = _is_italian(language)
    return _guarded(lambda t: _clean_title(t, italian=italian), text)


def normalize_summary(text: str, *, language: str | None = "it") -> str:
    """Normalize a summary (standfirst): one line, like a title (markup is left to the
    caller, who knows whether the field was HTML)."""
    italian = _is_italian(language)
    return _guarded(lambda t: _clean(t, one_line=True, italian=italian), text)


# A title is plain text, yet feeds escape it twice (``Bollette &amp;amp; tariffe``) or
# leave markup in it (``<b>Allerta</b> meteo``), and readers and validators then show or
# flag that markup. An entity behind any number of ``amp;`` prefixes is one escaped
# character, decoded in a single pass; a tag is anything ``<`` + letter, ``/``, ``!`` or
# ``?`` up to ``>``, the next ``<`` or the end, so no tag start is left while ``a < b``
# and ``3<4`` keep their ``<``.
_ESCAPED_ENTITY_RE: Final = re.compile(
    r"&(?:amp;)*(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});"
)
_TITLE_TAG_RE: Final = re.compile(r"<[A-Za-z/!?][^<>]*(?:>|(?=<)|$)")
# Decoding can spell a new entity (``&#38;lt;`` gives ``&lt;``): a few more passes, never
# an unbounded number on hostile input.
_TITLE_PASSES: Final = 4


def _clean_title(text: str, *, italian: bool) -> str:
    """The text rules on one line, then markup out; the rules run again on what that changed,
    since the two can reveal work for each other (an invisible character inside ``<b>``
    hides the tag until that rule removes it; a removed tag leaves two spaces)."""
    text = _clean(text, one_line=True, italian=italian)
    for _ in range(2):
        plain = _plain_title(text)
        if plain == text:
            break
        text = _clean(plain, one_line=True, italian=italian)
    return text


def _plain_title(text: str) -> str:
    """A title's text with HTML entities decoded (however often escaped) and tags removed
    (each becomes a space, so words on either side stay apart)."""
    for _ in range(_TITLE_PASSES):
        if "&" not in text and "<" not in text:
            break
        plain = _ESCAPED_ENTITY_RE.sub(lambda m: html.unescape(f"&{m.group(1)};"), text)
        plain = _TITLE_TAG_RE.sub(" ", plain)
        if plain == text:
            break
        text = plain
    return text


def extract_html_text(markup: str) -> str:
    """The text of an HTML field as it is, not normalized (block elements as line breaks,
    entities unescaped): enough to count words in, never raises."""
    return _guarded(html_text, markup)


def html_to_text(markup: str, *, language: str | None = "it", text: str | None = None) -> str:
    """Extract and normalize the text of an HTML field (then the text rules).

    A real parser (libxml2 through lxml), block elements become line breaks, entities
    are unescaped and double-escaped ones repaired; the result is a normalized body.
    `text`, when given, is that extracted text already (`paragraphs_text` of bare
    paragraphs), which saves the parse.
    """
    italian = _is_italian(language)
    return _guarded(
        lambda t: _clean(html_text(t) if text is None else text, one_line=False, italian=italian),
        markup,
    )

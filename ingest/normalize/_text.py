"""Text rules T1-T15 of the Italian normalizer (bodies, titles, summaries, HTML fields).

Every function here is pure, never raises on any ``str`` input and uses only regexes
that run in linear time (possessive quantifiers, look-behind anchored starts), so a
hostile 100 KB field cannot stall the ingest pipeline.

The shortcuts around ftfy (``fix_mojibake``, ``is_bad_segment``, ``BADNESS_GATE``,
``FTFY_CONFIG``) are public so that tests can hold them equal to ftfy's own answers.
"""

from __future__ import annotations

import codecs
import html
import importlib
import re
import unicodedata
from collections.abc import Callable
from importlib.resources import files
from typing import Any, Final

import ftfy
import ftfy.badness
import ftfy.chardata
from ftfy.badness import is_bad
from ftfy.fixes import uncurl_quotes
from lxml import etree

from ingest.normalize._util import wordset

# --------------------------------------------------------------------------- T1 decoding

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
    """Decode raw bytes (rule T1): strip a BOM; UTF-8, else cp1252, else Latin-1.

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


# ------------------------------------------------------------------- T2 line breaks, T5, T6

# Performance note: ``re`` scans fast only for patterns that start with a literal or a
# character class, so the patterns below start that way and check their left context
# with a look-behind placed after the first character. Rules whose trigger characters
# are absent are skipped with cheap ``in`` tests: clean text pays for little.

# T2 (CRLF/CR/LS/PS/NEL) and the two other characters str.splitlines() breaks on (VT, FF).
_LINE_BREAK_RE: Final = re.compile(r"\r\n?|[\u2028\u2029\x85\x0b\x0c]")
# T5: soft hyphen, ZWSP, ZWNJ, word joiner, BOM/ZWNBSP, bidi marks/embeddings/isolates,
# invisible operators, plus C0 controls other than tab and newline (never meaningful text).
_INVISIBLE: Final = (
    "\u00ad\u200b\u200c\u2060\ufeff\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069"
    "\u2061-\u2064\x00-\x08\x0e-\x1f\x7f"
)
_INVISIBLE_RE: Final = re.compile(f"[{_INVISIBLE}]+")
# A zero-width joiner glues emoji sequences (family, flags...): keep it only there.
_EMOJI: Final = "\u2600-\u27bf\u2b00-\u2bff\ufe0f\U0001f000-\U0001faff"
_STRAY_ZWJ_RE: Final = re.compile(f"\u200d(?<![{_EMOJI}]\u200d)|\u200d(?![{_EMOJI}])")
# T6: every horizontal space that is not U+0020 (tabs, NBSP, narrow/thin/figure spaces...).
_SPACES_RE: Final = re.compile("[\t\xa0\u1680\u2000-\u200a\u202f\u205f\u3000]")
_SPACE_RUN_RE: Final = re.compile(" {2,}")
_BLANK_LINES_RE: Final = re.compile(r" *+\n[ \n]*+")  # trims around breaks, drops empties
# One scan tells whether any of T2, T5, T6 (non-U+0020 spaces) occur at all, another
# whether the look-alike characters of T7, T11, T12 do; clean text skips all of those
# rules, and text whose only oddity is typographic quotes skips the layout ones.
_LAYOUT_SPECIAL_RE: Final = re.compile(
    f"[\\r\u2028\u2029\x85\x0b\x0c{_INVISIBLE}\u200d\t\xa0\u1680\u2000-\u200a\u202f\u205f\u3000]"
)
_TYPO_SPECIAL_RE: Final = re.compile(
    "[\u2018\u2019\u201a\u201b\u02bc\u201c-\u201f\u2033\u2010-\u2012\u2212\ufe63\uff0d´`′]"
)

# --------------------------------------------------------------------------- T4 mojibake

# ftfy is costly (about as much as all our other rules together, even on clean text), so
# it runs only when the text holds a character that mojibake, cp1252 stray bytes,
# ligatures or full-width forms produce: C1 controls; ``Â``/``Ã``/``Å`` (lead bytes of
# Latin letters and NBSP read as cp1252); ``€``, ``‚``, ``„``, ``™`` (the second byte of
# curly quotes, dashes and ellipses, E2 80/82/84); presentation ligatures; full-width
# forms; lone surrogates. A clean text that only has ``€`` pays for a needless ftfy call.
_SUSPICIOUS_RE: Final = re.compile(
    "[\x80-\x9f\xc2\xc3\xc5\u20ac\u201a\u201e\u2122\ufb00-\ufb06\uff01-\uff5e\ud800-\udfff]"
)
# T3 is the HTML parser's job: ftfy must not unescape entities in plain text, or a
# double-escaped ``&amp;agrave;`` would change again on a second pass (not idempotent).
FTFY_CONFIG: Final = ftfy.TextFixerConfig(unescape_html=False, explain=False)
# ``ftfy.fix_text`` fixes each line (up to and including its ``\n``) on its own, and a
# line is left exactly as it is unless ftfy's encoding fixer finds it bad
# (``ftfy.badness.is_bad``) or it holds a character one of its other fixers replaces:
# C1 controls, ligatures, width forms, curly quotes, line breaks, surrogates, ANSI
# escapes, control characters (read from ftfy's own tables). Only such lines are handed
# to ftfy: a mojibake paragraph no longer makes ftfy read the whole body, with the very
# same result. A line that is not bad and whose only such characters are curly quotes
# gets what ftfy would give it (its quotes straightened, then NFC) without ftfy.
_FTFY_QUOTES: Final = {0x2BC, *range(0x2018, 0x2020)}  # ftfy.fixes.uncurl_quotes' set
_FTFY_OTHERS_RE: Final = re.compile(
    "["
    + "".join(
        re.escape(chr(code))
        for code in sorted(
            {*range(0x80, 0xA0), *range(0xD800, 0xE000), 0x1B, 0x0D, 0x85, 0x2028, 0x2029}
            | set(ftfy.chardata.LIGATURES)
            | set(ftfy.chardata.WIDTH_MAP)
            | set(ftfy.chardata.CONTROL_CHARS)
        )
        if code not in _FTFY_QUOTES
    )
    + "]"
)
_FTFY_QUOTES_RE: Final = re.compile("[" + "".join(chr(code) for code in sorted(_FTFY_QUOTES)) + "]")


def _badness_gate() -> re.Pattern[str] | None:
    """A character class every match of ftfy's ``BADNESS_RE`` must use, or None.

    ``is_bad`` searches one large regex (most of ftfy's time on a line) and a match of
    any of its alternatives needs at least one character of a fixed set: the set each
    alternative is built from, picked as the one sharing the fewest characters with
    plain Italian text (ASCII, ``àèéìòù``...; never avoidable: ``È``, ``«»``, curly
    quotes). A line holding none of them cannot be bad, and is not searched. Read from
    ftfy's regex at import, so a new ftfy cannot make it wrong; None (search every line)
    if the regex has a shape this does not understand.
    """
    try:
        parser: Any = importlib.import_module("re._parser")
        constants: Any = importlib.import_module("re._constants")
        pattern = ftfy.badness.BADNESS_RE
        tree = parser.parse(pattern.pattern, pattern.flags)
        if pattern.flags & re.IGNORECASE or len(tree) != 1 or tree[0][0] is not constants.BRANCH:
            return None
        common = {*range(128), *map(ord, "àèéìòùÀÈÉÌÒÙ’‘“”«»–—…")}

        def chars(item: Any) -> set[int] | None:
            op, arg = item
            if op is constants.LITERAL:
                return {arg}
            if op is not constants.IN:
                return None
            found: set[int] = set()
            for kind, value in arg:
                if kind is constants.LITERAL:
                    found.add(value)
                elif kind is constants.RANGE:
                    found.update(range(value[0], value[1] + 1))
                else:  # NEGATE, CATEGORY: not a finite set
                    return None
            return found

        def rarity(found: set[int]) -> tuple[int, int]:
            return len(found & common), len(found)

        gate: set[int] = set()
        for alternative in tree[0][1][1]:
            best: set[int] | None = None
            for item in alternative:
                if item[0] in (constants.MAX_REPEAT, constants.MIN_REPEAT):
                    low, _, body = item[1]
                    if low == 0 or len(body) != 1:
                        continue  # optional: a match need not use it
                    item = body[0]
                found = chars(item)
                if found is not None and (best is None or rarity(found) < rarity(best)):
                    best = found
            if best is None:
                return None
            gate |= best
        return re.compile("[" + "".join(re.escape(chr(code)) for code in sorted(gate)) + "]")
    except Exception:  # private API of `re`: any surprise only turns the gate off
        return None


BADNESS_GATE: Final = _badness_gate()


def is_bad_segment(segment: str) -> bool:
    """``ftfy.badness.is_bad(segment)``, without its search when no match is possible."""
    if segment.isascii() or (BADNESS_GATE is not None and not BADNESS_GATE.search(segment)):
        return False
    return is_bad(segment)


# The lost second byte of ``à`` (UTF-8 C3 A0, where A0 became a space or vanished):
# a capital A-tilde closing a lower-case word is never Italian.
_LOST_A_GRAVE_RE: Final = re.compile(r"Ã(?<=[a-zà-ù]Ã)(?![^\W\d_])")

# ------------------------------------------------------------------------------ masking

# From T7 on URLs, e-mail addresses and `code spans` are replaced by one private-use
# character each (not a letter, not punctuation, so no rule touches it) and restored last.
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

# ------------------------------------------------------------------ T7-T14 typography

_LETTER: Final = r"[^\W\d_]"
# T7/T11: typographic single quotes and the modifier-letter apostrophe are always
# apostrophes or single quotes; canonical ``'``. Same for double quotes and ``"``.
_LOOK_ALIKES: Final = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u02bc": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
    # T12 hyphen look-alikes: hyphen, non-breaking hyphen, figure dash, minus, small
    # and full-width hyphen-minus.
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2212": "-", "\ufe63": "-",
    "\uff0d": "-",
}  # fmt: skip
_LOOK_ALIKE_RE: Final = re.compile(f"[{''.join(_LOOK_ALIKES)}]")
# Acute accent, backtick and prime are apostrophes only between two letters (``l´ultimo``).
_APOSTROPHE_LIKE_RE: Final = re.compile(f"[´`′](?<={_LETTER}[´`′])(?={_LETTER})")
# T8: elided forms after which a stray space is removed (``un' intesa`` -> ``un'intesa``).
_ELIDED: Final = wordset(
    "l un dell dall all nell sull coll pell quell quest bell sant buon nessun ciascun "
    "qualcun alcun c d m t s v n gl anch dov com cos senz tutt mezz grand nient quand "
    "sott ov"
)
# Every elided form ends in a consonant: matching only there skips ``e' `` (T9's case).
_ELISION_SPACE_RE: Final = re.compile(f"'(?<=[b-df-hj-np-tv-zB-DF-HJ-NP-TV-Z]') +(?={_LETTER}|\\d)")
# T9: an apostrophe-like mark after a vowel, followed by a space, punctuation or the end:
# the word before it is a candidate accent typed as an apostrophe.
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
# T10: misspellings (Italian only). Every ``-chè`` but ``lacchè``; lone ``nè``/``sè``;
# ``-trè`` compounds; ``pò``; a lone capital ``É`` (the verb, typed with the wrong accent).
_CHE_RE: Final = re.compile(f"[cC][hH][èÈ](?!{_LETTER})")
_NE_SE_RE: Final = re.compile(f"[nNsS](?<!{_LETTER}[nNsS])[èÈ](?!{_LETTER})")
_TRE_RE: Final = re.compile(f"[tT](?<={_LETTER}[tT])[rR][èÈ](?!{_LETTER})")
_PO_RE: Final = re.compile(f"[pP](?<!{_LETTER}[pP])ò(?![\\w'])")
# What each of the three ``è`` rules above needs (``hè``, ``nè``/``sè``, ``rè``): one scan
# instead of three on the many texts whose only ``è`` is the verb or ``perché``'s cousins.
_T10_GRAVE_RE: Final = re.compile("[hHnNsSrR][èÈ]")
_LONE_E_ACUTE_RE: Final = re.compile(f"É(?<!{_LETTER}É)(?!{_LETTER})")
# T11: guillemets without inner spaces.
_GUILLEMET_SPACE_RE: Final = re.compile(r"« +| +»")
# T12: spaced hyphen(s) or em/horizontal-bar dash between words -> spaced en dash.
# The space after the dash is a look-ahead, so ``a - - b`` converts both dashes at once.
_SPACED_DASH_RE: Final = re.compile(r" (?<=\S )(?:-{1,3}|[—―])(?= \S)")
# T13: three or more dots, spaced or not (``...``, ``. . .``, ``.. .``), become an ellipsis;
# the spaced forms too, or T14 would close them up into a ``...`` for the next pass.
_ELLIPSIS_RE: Final = re.compile(r"\.(?: ?\.){2,}+")
# T14: no space before , ; : ! ? ) ] … and before a sentence-final ``.`` (``.NET`` stays);
# none after ( and [.
_SPACE_BEFORE_PUNCT_RE: Final = re.compile(r" ++(?=[,;:!?)\]…]|\.(?![^\W_]))")
_SPACE_BEFORE_PUNCT: Final = (" ,", " ;", " :", " !", " ?", " )", " ]", " …", " .")
_SPACE_AFTER_OPEN_RE: Final = re.compile(r"(?<=[(\[]) ++")


def _load_oxytones() -> frozenset[str]:
    """Read the packaged list of longer oxytone words (rule T9)."""
    try:
        text = files("ingest.data").joinpath("oxytones.txt").read_text(encoding="utf-8")
    except (OSError, ModuleNotFoundError):  # a broken install degrades T9, never crashes
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
    """T9: ``perche'`` -> ``perché`` for known words, case kept, quotes left alone."""
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
    """T8: drop the space in ``un' intesa`` when the word before is a known elided form."""
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
    """T2 line breaks, T5 invisible characters, NFC, T6 spaces and lines."""
    if special:
        text = _LINE_BREAK_RE.sub("\n", text)
        text = _INVISIBLE_RE.sub("", text)
        if "\u200d" in text:
            text = _STRAY_ZWJ_RE.sub("", text)
        text = _SPACES_RE.sub(" ", text)
    # NFC early too, so that the letter classes of the rules below see ``è`` as one letter
    # even in NFD input; T15 repeats it at the end.
    text = unicodedata.normalize("NFC", text)
    if one_line:
        return " ".join(text.split())
    if "  " in text:
        text = _SPACE_RUN_RE.sub(" ", text)
    if "\n" in text or text[:1] == " " or text[-1:] == " ":
        text = _BLANK_LINES_RE.sub("\n", text).strip(" \n")
    return text


def _clean(text: str, *, one_line: bool, italian: bool) -> str:
    """The shared pipeline T1-T15 (T3 excepted: that is :func:`html_to_text`).

    Later rules can bring mojibake fragments together (``Â`` + space + ``»`` loses its
    space to T11 and becomes ``Â»``, which ftfy repairs), so text that still looks
    suspicious after a pass gets another one, until nothing changes (at most three
    passes; clean text never pays for this).
    """
    result = _clean_once(text, one_line=one_line, italian=italian)
    for _ in range(2):
        if not _SUSPICIOUS_RE.search(result):
            break
        again = _clean_once(result, one_line=one_line, italian=italian)
        if again == result:
            break
        result = again
    return result


def fix_mojibake(text: str) -> str:
    """``ftfy.fix_text(text, FTFY_CONFIG)`` for NFC text (as ``_layout`` leaves it),
    calling ftfy only on the lines it would change."""
    lines = text.split("\n")
    last = len(lines) - 1
    return "".join(
        _fix_mojibake_line(line if index == last else line + "\n")
        for index, line in enumerate(lines)
    )


def _fix_mojibake_line(segment: str) -> str:
    """``ftfy.fix_text(segment, FTFY_CONFIG)`` for one NFC line (see _FTFY_OTHERS_RE)."""
    if _FTFY_OTHERS_RE.search(segment) is None and not is_bad_segment(segment):
        if _FTFY_QUOTES_RE.search(segment) is None:
            return segment  # no fixer of ftfy would change it
        # ftfy's first round changes only the quotes (then NFC); a second round changes
        # nothing more unless the straightened line looks bad: then ftfy decides.
        straight = unicodedata.normalize("NFC", uncurl_quotes(segment))
        if not is_bad_segment(straight):
            return straight
    return ftfy.fix_text(segment, FTFY_CONFIG)


def _clean_once(text: str, *, one_line: bool, italian: bool) -> str:
    """One pass of T1-T15."""
    # T1 (for text already decoded): a leading BOM; stray ones go with T5.
    text = text.removeprefix("\ufeff")
    special = _LAYOUT_SPECIAL_RE.search(text) is not None
    text = _layout(text, special=special, one_line=one_line)
    # T4 runs on the laid-out text (and the layout is redone if ftfy changed anything):
    # ftfy reads ``Ã`` + space differently from ``Ã`` + newline, so fixing mojibake before
    # lines are joined would let a second pass find more to fix (not idempotent).
    if _SUSPICIOUS_RE.search(text):
        fixed = fix_mojibake(text)
        if fixed != text:
            special = special or _LAYOUT_SPECIAL_RE.search(fixed) is not None
            text = _layout(fixed, special=special, one_line=one_line)
    if "Ã" in text:
        text = _LOST_A_GRAVE_RE.sub("à", text)
    if not text:
        return text
    text, spans = _mask(text)
    # T7 + T11 + T12 look-alikes
    if _TYPO_SPECIAL_RE.search(text):
        text = _LOOK_ALIKE_RE.sub(lambda m: _LOOK_ALIKES[m.group(0)], text)
        text = _APOSTROPHE_LIKE_RE.sub("'", text)
    has_mark = "'" in text or "`" in text or "´" in text
    # T8
    if has_mark and " " in text:
        text = _ELISION_SPACE_RE.sub(_join_elision, text)
    if italian:
        # T9
        if has_mark:
            text = _fix_accents(text)
        # T10
        if ("è" in text or "È" in text) and _T10_GRAVE_RE.search(text):
            text = _CHE_RE.sub(_fix_che, text)
            text = _NE_SE_RE.sub(_fix_acute, text)
            text = _TRE_RE.sub(_fix_acute, text)
        if "pò" in text or "Pò" in text:
            text = _PO_RE.sub(lambda m: m.group(0)[0] + "o'", text)
        if "É" in text:
            text = _LONE_E_ACUTE_RE.sub("È", text)
    # T11
    if "« " in text or " »" in text:
        text = _GUILLEMET_SPACE_RE.sub(lambda m: m.group(0).strip(" "), text)
    # T12
    if " -" in text or " —" in text or " ―" in text:
        text = _SPACED_DASH_RE.sub(" –", text)
    # T13
    if ".." in text or ". ." in text:
        text = _ELLIPSIS_RE.sub("…", text)
    # T14
    if any(pair in text for pair in _SPACE_BEFORE_PUNCT):
        text = _SPACE_BEFORE_PUNCT_RE.sub("", text)
    if "( " in text or "[ " in text:
        text = _SPACE_AFTER_OPEN_RE.sub("", text)
    text = _unmask(text, spans)
    # T15: NFC, never NFKC (``1º``, ``m²``, ``½`` must survive).
    return unicodedata.normalize("NFC", text)


def _guarded(func: Callable[[str], str], text: str) -> str:
    """Run a pipeline; on an unexpected bug return the input instead of raising."""
    try:
        return func(text)
    except Exception:  # "never raises" is part of the contract; a bad field stays as is
        return text


def normalize_text(text: str, *, language: str | None = "it") -> str:
    """Normalize a body: one paragraph per line, no empty lines (rules T1-T15).

    ``language`` is the article's language; the Italian-only rules (T9, T10) run only
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
    """T1-T15 on one line, then markup out; the rules run again on what that changed,
    since the two can reveal work for each other (an invisible character inside ``<b>``
    hides the tag until T5 removes it; a removed tag leaves two spaces)."""
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


# ------------------------------------------------------------------------------ T3 HTML

_BLOCK_TAGS: Final = wordset(
    "address article aside blockquote br dd details dialog div dl dt fieldset figcaption "
    "figure footer form h1 h2 h3 h4 h5 h6 header hgroup hr li main nav ol p pre section "
    "summary table tbody thead tfoot tr ul caption body html"
)
_CELL_TAGS: Final = frozenset({"td", "th"})
_SKIPPED_TAGS: Final = frozenset(
    {"script", "style", "template", "noscript", "head", "title", "svg", "math", "iframe"}
)
_ENTITY_RE: Final = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_HTML_WS_RE: Final = re.compile(r"[ \t\n\r\f]+")


def _html_text(markup: str) -> str:
    """Text of an HTML fragment, block elements as line breaks (lxml: libxml2's parser).

    lxml rather than the standard library's html.parser: the latter is quadratic on
    unclosed tags (100 KB of ``<a `` takes minutes), libxml2 is linear. Bytes in, with the
    encoding forced, because lxml refuses ``str`` input that carries an XML declaration.
    """
    data = markup.encode("utf-8", errors="replace")
    root = etree.fromstring(data, etree.HTMLParser(encoding="utf-8", recover=True))
    if root is None:
        return ""
    parts: list[str] = []
    skipped = 0
    pre = 0
    for event, element in etree.iterwalk(root, events=("start", "end")):
        tag = element.tag if isinstance(element.tag, str) else ""  # comments, PIs: no tag
        if event == "start":
            if tag in _SKIPPED_TAGS:
                skipped += 1
            if tag in _BLOCK_TAGS:
                parts.append("\n")
            elif tag in _CELL_TAGS:
                parts.append(" ")
            if tag == "pre":
                pre += 1
            if not skipped and tag and element.text:
                # HTML collapses white space: a source newline is a space, except in <pre>.
                parts.append(element.text if pre else _HTML_WS_RE.sub(" ", element.text))
        else:
            if tag in _SKIPPED_TAGS:
                skipped -= 1
            if tag in _BLOCK_TAGS:
                parts.append("\n")
            if tag == "pre":
                pre -= 1
            if not skipped and element.tail:
                parts.append(element.tail if pre else _HTML_WS_RE.sub(" ", element.tail))
    text = "".join(parts)
    # Double-escaped entities (``citt&amp;agrave;``) come out of the parser as
    # ``&agrave;``: unescape once more. Unknown names stay untouched (html.unescape).
    if "&" in text:
        text = _ENTITY_RE.sub(lambda m: html.unescape(m.group(0)), text)
    return text


def extract_html_text(markup: str) -> str:
    """The text of an HTML field as it is, not normalized (block elements as line breaks,
    entities unescaped): enough to count words in, never raises."""
    return _guarded(_html_text, markup)


def html_to_text(markup: str, *, language: str | None = "it") -> str:
    """Extract and normalize the text of an HTML field (rule T3, then T1-T15).

    A real parser (libxml2 through lxml), block elements become line breaks, entities
    are unescaped and double-escaped ones repaired; the result is a normalized body.
    """
    italian = _is_italian(language)
    return _guarded(lambda t: _clean(_html_text(t), one_line=False, italian=italian), markup)

"""Mojibake repair for the normalizer: ftfy, called only where it could change something.

ftfy is the costliest step of normalization, so these shortcuts decide cheaply which
text and which lines it must see, and give ftfy's own answer for the rest. They are
public so that tests can hold them equal to ftfy's own answers.
"""

from __future__ import annotations

import importlib
import re
import unicodedata
from typing import Any, Final

import ftfy
import ftfy.badness
import ftfy.chardata
import ftfy.fixes
from ftfy.badness import is_bad
from ftfy.fixes import uncurl_quotes

# ftfy is costly (about as much as all our other rules together, even on clean text), so
# it runs only when the text holds a character that mojibake, cp1252 stray bytes,
# ligatures or full-width forms produce: C1 controls; ``Â``/``Ã``/``Å`` (lead bytes of
# Latin letters and NBSP read as cp1252); ``€``, ``‚``, ``„``, ``™`` (the second byte of
# curly quotes, dashes and ellipses, E2 80/82/84); presentation ligatures; full-width
# forms; lone surrogates. A clean text that only has ``€`` pays for a needless ftfy call.
SUSPICIOUS_RE: Final = re.compile(
    "[\x80-\x9f\xc2\xc3\xc5\u20ac\u201a\u201e\u2122\ufb00-\ufb06\uff01-\uff5e\ud800-\udfff]"
)
# Entities are the HTML parser's job: ftfy must not unescape them in plain text, or a
# double-escaped ``&amp;agrave;`` would change again on a second pass (not idempotent).
FTFY_CONFIG: Final = ftfy.TextFixerConfig(unescape_html=False, explain=False)
# ``ftfy.fix_text`` fixes each line (up to and including its ``\n``) on its own, and a
# line is left exactly as it is unless ftfy's encoding fixer finds it bad
# (``ftfy.badness.is_bad``) or it holds a character one of its other fixers replaces:
# C1 controls, ligatures, width forms, curly quotes, line breaks, surrogates, ANSI
# escapes, control characters (read from ftfy's own tables). Only such lines are handed
# to ftfy: a mojibake paragraph does not make ftfy read the whole body, with the very
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
LOST_A_GRAVE_RE: Final = re.compile(r"Ã(?<=[a-zà-ù]Ã)(?![^\W\d_])")


def fix_mojibake(text: str) -> str:
    """``ftfy.fix_text(text, FTFY_CONFIG)`` for NFC text (as the layout rules leave it),
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
    return fix_segment(segment)


def _char_class(codes: set[int]) -> re.Pattern[str]:
    return re.compile("[" + "".join(re.escape(chr(code)) for code in sorted(codes)) + "]")


# ftfy's fixers after the encoding one, in the order `ftfy.fix_and_explain` runs them,
# each with the characters it replaces (from its code and tables): without them it
# returns its input.
GATED_FIXERS: Final = (
    (_char_class(set(range(0x80, 0xA0))), ftfy.fixes.fix_c1_controls),
    (_char_class(set(ftfy.chardata.LIGATURES)), ftfy.fixes.fix_latin_ligatures),
    (_char_class(set(ftfy.chardata.WIDTH_MAP)), ftfy.fixes.fix_character_width),
    (_char_class(_FTFY_QUOTES), ftfy.fixes.uncurl_quotes),
    (_char_class({0x0D, 0x85, 0x2028, 0x2029}), ftfy.fixes.fix_line_breaks),
    (_char_class(set(range(0xD800, 0xE000))), ftfy.fixes.fix_surrogates),
    (_char_class({0x1B}), ftfy.fixes.remove_terminal_escapes),
    (_char_class(set(ftfy.chardata.CONTROL_CHARS)), ftfy.fixes.remove_control_chars),
)
# The loop of `ftfy.fix_and_explain` is copied from this version of ftfy; any other
# version gets ftfy's own function.
FTFY_LOOP_VERSION: Final = "6.3.1"


def fix_segment(segment: str) -> str:
    """``ftfy.fix_text(segment, FTFY_CONFIG)`` for one line: ftfy's loop of fixers until
    nothing changes, without calling the fixers that have nothing to replace (three
    of them translate the whole line) nor the encoding fixer on text that cannot look
    bad to it (its first test)."""
    if (
        ftfy.__version__ != FTFY_LOOP_VERSION
        or len(segment) > FTFY_CONFIG.max_decode_length
        or "\n" in segment[:-1]
    ):
        return ftfy.fix_text(segment, FTFY_CONFIG)
    text = segment
    while True:
        before = text
        if is_bad_segment(text):
            text = ftfy.fix_encoding(text)
        for gate, fixer in GATED_FIXERS:
            if gate.search(text) is not None:
                text = fixer(text)
        text = unicodedata.normalize("NFC", text)
        if text == before:
            return text

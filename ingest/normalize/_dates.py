"""Publication dates: ISO 8601, RFC 822, Italian dates and relative dates, always aware.

The cheap parsers (``datetime.fromisoformat``, ``email.utils``, a regex for the common
Italian forms and the relative expressions) cover nearly every feed; dateparser is the
fallback for the rest. It takes about a second to import, so it is imported lazily.
"""

from __future__ import annotations

import calendar
import email.utils
import importlib
import re
from datetime import date, datetime, time, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from ingest import DEFAULT_TIMEZONE

_PREFIX_RE: Final = re.compile(
    r"^(?:(?:pubblicat[oa]|aggiornat[oa]|ultimo aggiornamento|ultima modifica|modificat[oa]"
    r"|data(?: di pubblicazione)?|published|updated|posted)(?: (?:il|alle|on|at|:))?:?\s*)+",
    re.IGNORECASE,
)
# ``1º luglio`` / ``1° luglio``: an ordinal marker after the day number.
_ORDINAL_RE: Final = re.compile(r"(?<=\d)\s?[º°ª]")
_MONTHS: Final = {
    "gennaio": 1, "gen": 1, "january": 1, "jan": 1,
    "febbraio": 2, "feb": 2, "february": 2,
    "marzo": 3, "mar": 3, "march": 3,
    "aprile": 4, "apr": 4, "april": 4,
    "maggio": 5, "mag": 5, "may": 5,
    "giugno": 6, "giu": 6, "june": 6, "jun": 6,
    "luglio": 7, "lug": 7, "july": 7, "jul": 7,
    "agosto": 8, "ago": 8, "august": 8, "aug": 8,
    "settembre": 9, "set": 9, "sett": 9, "september": 9, "sep": 9, "sept": 9,
    "ottobre": 10, "ott": 10, "october": 10, "oct": 10,
    "novembre": 11, "nov": 11, "november": 11,
    "dicembre": 12, "dic": 12, "december": 12, "dec": 12,
}  # fmt: skip
_TIME: Final = r"(?:\s*,?\s*(?:-|alle ore|alle|ore|h|at)?\s*(\d{1,2})[:.](\d{2})(?:[:.](\d{2}))?)?"
# ``lunedì 1 luglio 2024, ore 10:30`` (weekday optional, month name Italian or English).
_NAMED_RE: Final = re.compile(
    r"(?:[^\W\d_]+,?\s+)?(\d{1,2})\s+([^\W\d_]+)\.?\s+(\d{4})" + _TIME, re.IGNORECASE
)
# ``19/06/2024``, ``19.06.2024 10:30``, ``19-06-24``: always day first in Italy.
_NUMERIC_RE: Final = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4}|\d{2})" + _TIME)
_ISO_START_RE: Final = re.compile(r"\d{4}-\d{2}")
_RELATIVE_DAYS: Final = {
    "oggi": 0, "today": 0, "ieri": 1, "yesterday": 1, "l'altro ieri": 2, "altro ieri": 2,
    "l'altroieri": 2, "altroieri": 2, "avantieri": 2, "ieri l'altro": 2,
}  # fmt: skip
_UNITS: Final = {
    "secondo": "seconds", "secondi": "seconds", "second": "seconds", "seconds": "seconds",
    "minuto": "minutes", "minuti": "minutes", "minute": "minutes", "minutes": "minutes",
    "min": "minutes", "ora": "hours", "ore": "hours", "hour": "hours", "hours": "hours",
    "giorno": "days", "giorni": "days", "day": "days", "days": "days",
    "settimana": "weeks", "settimane": "weeks", "week": "weeks", "weeks": "weeks",
    "mese": "months", "mesi": "months", "month": "months", "months": "months",
    "anno": "years", "anni": "years", "year": "years", "years": "years",
}  # fmt: skip
_NUMBER_WORDS: Final = {"un": 1, "una": 1, "un'": 1, "a": 1, "an": 1, "mezz'": 0.5}
_AGO_RE: Final = re.compile(
    r"(?:circa |about )?(\d{1,4}|un'|una|un|a|an|mezz')\s*([^\W\d_]+)\s+(?:fa|ago)",
    re.IGNORECASE,
)


def _month_shift(day: date, months: int) -> date:
    year, month = divmod(day.month - 1 - months, 12)
    year += day.year
    month += 1
    return day.replace(
        year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1])
    )


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=zone)


def _relative(text: str, now: datetime, zone: ZoneInfo) -> datetime | None:
    """``ieri``, ``2 ore fa``: against ``now``. Day-sized units give 00:00 (no time known)."""
    key = text.lower()
    if key in _RELATIVE_DAYS:
        return _midnight(now.date() - timedelta(days=_RELATIVE_DAYS[key]), zone)
    match = _AGO_RE.fullmatch(key)
    if match is None:
        return None
    amount_text, unit_word = match.groups()
    unit = _UNITS.get(unit_word)
    if unit is None:
        return None
    amount = float(_NUMBER_WORDS.get(amount_text, 0)) or float(amount_text)
    if unit in ("seconds", "minutes", "hours"):
        return now - timedelta(**{unit: amount})
    if unit == "days":
        return _midnight(now.date() - timedelta(days=int(amount)), zone)
    if unit == "weeks":
        return _midnight(now.date() - timedelta(weeks=int(amount)), zone)
    months = int(amount) * (12 if unit == "years" else 1)
    return _midnight(_month_shift(now.date(), months), zone)


def _build(
    zone: ZoneInfo, day: int, month: int, year: int, clock: tuple[str | None, ...]
) -> datetime | None:
    if year < 100:
        year += 2000 if year < 70 else 1900
    hour, minute, second = (int(part) if part else 0 for part in clock)
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=zone)
    except ValueError:
        return None


def _cheap(text: str, zone: ZoneInfo) -> datetime | None:
    """ISO 8601, RFC 822 and the usual Italian forms, without dateparser."""
    if _ISO_START_RE.match(text):
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            parsed = None
        if parsed is not None:
            return parsed.replace(tzinfo=zone) if parsed.tzinfo is None else parsed
    if "," in text or text[:1].isalpha() or " " in text:
        try:
            rfc = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            rfc = None
        if rfc is not None and re.search(r"\d{1,2}:\d{2}", text):
            # RFC 822 "-0000" means UTC with no local offset known: still UTC.
            return rfc.replace(tzinfo=ZoneInfo("UTC")) if rfc.tzinfo is None else rfc
    named = _NAMED_RE.fullmatch(text)
    if named is not None:
        month = _MONTHS.get(named.group(2).lower())
        if month is not None:
            return _build(zone, int(named.group(1)), month, int(named.group(3)), named.groups()[3:])
    numeric = _NUMERIC_RE.fullmatch(text)
    if numeric is not None:
        return _build(
            zone, int(numeric.group(1)), int(numeric.group(2)), int(numeric.group(3)),
            numeric.groups()[3:],
        )  # fmt: skip
    return None


def _with_dateparser(text: str, now: datetime, zone: ZoneInfo, tz: str) -> datetime | None:
    """The slow, general fallback (lazy import: dateparser takes ~1 s to load)."""
    module: Any = importlib.import_module("dateparser.date")
    settings = {
        "DATE_ORDER": "DMY",
        "PREFER_DATES_FROM": "past",
        "PREFER_DAY_OF_MONTH": "first",
        "RELATIVE_BASE": now.astimezone(zone).replace(tzinfo=None),
        "TIMEZONE": tz,
        "TO_TIMEZONE": tz,
        "RETURN_AS_TIMEZONE_AWARE": True,
        "RETURN_TIME_AS_PERIOD": True,
    }
    data = module.DateDataParser(languages=["it", "en"], settings=settings).get_date_data(text)
    found = data["date_obj"]
    if not isinstance(found, datetime):
        return None
    if data["period"] in ("day", "week", "month", "year"):
        return _midnight(found.date(), zone)  # a date without a time is 00:00 locally
    return found if found.tzinfo is not None else found.replace(tzinfo=zone)


def parse_date(
    text: str, now: datetime | None = None, tz: str = DEFAULT_TIMEZONE
) -> datetime | None:
    """Parse a publication date into an aware datetime in ``tz``, or None.

    ``now`` is the fetch time relative dates are counted from (default: the current
    time); a naive ``now`` is read in ``tz``. A date without a time is 00:00 in ``tz``.
    Never raises.
    """
    try:
        zone = ZoneInfo(tz)
        if now is None:
            now = datetime.now(zone)
        elif now.tzinfo is None:
            now = now.replace(tzinfo=zone)
        cleaned = " ".join(text.split())
        cleaned = _PREFIX_RE.sub("", cleaned)
        cleaned = _ORDINAL_RE.sub("", cleaned).strip(" ,.;")
        cleaned = cleaned.replace("\u2019", "'")
        if not cleaned or len(cleaned) > 200:
            return None
        found = _relative(cleaned, now, zone) or _cheap(cleaned, zone)
        if found is None:
            found = _with_dateparser(cleaned, now, zone, tz)
        return None if found is None else found.astimezone(zone)
    except Exception:  # dates come from the wild; a bad one is "no date", not a crash
        return None

"""Durations written as strings in the config: "90s", "10m", "2h", "1d", "1h30m"."""

from __future__ import annotations

import re

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_PART = re.compile(r"(\d+)\s*([smhd])")
_WHOLE = re.compile(r"(?:\d+\s*[smhd]\s*)+")


def parse_duration(text: str) -> int:
    """Seconds in `text`; raises ValueError for anything that is not a positive duration."""
    cleaned = text.strip().lower()
    if not _WHOLE.fullmatch(cleaned):
        raise ValueError(f'"{text}" is not a duration like "10m"')
    seconds = sum(int(n) * _UNITS[unit] for n, unit in _PART.findall(cleaned))
    if seconds <= 0:
        raise ValueError(f'"{text}" is not a positive duration')
    return seconds


def format_duration(seconds: int) -> str:
    """The shortest config-style spelling of `seconds` ("600" → "10m")."""
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            count, seconds = divmod(seconds, size)
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"

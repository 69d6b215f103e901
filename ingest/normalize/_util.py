"""Small helpers shared by the normalizer modules."""

from __future__ import annotations


def wordset(words: str) -> frozenset[str]:
    """A frozen set from a space-separated word list (long lists read better as prose)."""
    return frozenset(words.split())

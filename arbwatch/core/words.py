"""Counts in words for what arbwatch prints: ``1 alert``, ``2 alerts``, never ``1 alerts``."""

from __future__ import annotations


def plural(count: int, word: str, many: str | None = None) -> str:
    """``1 alert``, ``0 alerts``, ``1,234 alerts``; ``many`` where adding an s is wrong."""
    return f"{count:,} {word if count == 1 else many or word + 's'}"

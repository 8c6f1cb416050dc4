"""Counts and budgets as people write them: 6887575552, 6.9e9, 6.9B, 4T, 3e21."""

from __future__ import annotations

import math
import re

from .errors import TaskladderError

__all__ = ["parse_count", "parse_counts", "parse_flops"]

_MAX_COUNT = float(2 ** 63 - 1024)
_SUFFIX = {"": 1, "K": 1e3, "M": 1e6, "B": 1e9, "G": 1e9, "T": 1e12}


def parse_counts(text: str, what: str) -> int | list[int]:
    """One count, or a comma-separated list of them ("3B,7B,13B": a sweep of targets) as a list."""
    parts = (text or "").split(",")
    if len(parts) == 1:
        return parse_count(parts[0], what)
    return [parse_count(t, what) for t in parts]


def parse_flops(text: str, what: str) -> float:
    """Parse a compute budget (3e21, 300e18): a positive finite number, not bounded like a count."""
    return float(parse_count(text, what, limit=float("inf")))


def parse_count(text: str, what: str, limit: float = None) -> int:
    """Parse 6887575552, 6.9e9, 6.9B or 4T into an integer count."""
    m = re.fullmatch(r"\s*([+-]?[0-9]*\.?[0-9]+(?:[eE][+-]?\d+)?)\s*([KkMmBbGgTt]?)\s*", text or "")
    if not m:
        raise TaskladderError(f"{what}: {text!r} is not a number (examples: 6887575552, 6.9e9, 6.9B, 4T)")
    v = float(m[1]) * _SUFFIX[m[2].upper()]
    if not v > 0:
        raise TaskladderError(f"{what}: must be positive, got {text!r}")
    if v < 0.5 and limit is None:  # a count rounds to an integer: 0.4 would become 0
        raise TaskladderError(f"{what}: a count must be at least 1, got {text!r}")
    # counts are stored as int64 (the results table's n and d): anything past that is a typo
    limit = _MAX_COUNT if limit is None else limit
    if not math.isfinite(v):
        raise TaskladderError(f"{what}: {text!r} is too large (not a finite number)")
    if not v < limit:
        raise TaskladderError(f"{what}: {text!r} is too large (counts must be below {limit:.2g})")
    return int(round(v)) if v < _MAX_COUNT else v

"""Counts and budgets as people write them (6887575552, 6.9e9, 6.9B, 4T, 3e21) and levels as they read them (90%)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from .errors import TaskladderError

__all__ = ["ChinchillaMultiple", "check_count", "parse_count", "parse_counts", "parse_flops", "parse_level",
           "parse_tokens", "percent", "short_count"]

_MAX_COUNT = float(2 ** 63 - 1024)
_SUFFIX = {"": 1, "K": 1e3, "M": 1e6, "B": 1e9, "G": 1e9, "T": 1e12}


#: A count with thousands separators, as taskladder prints them (6,887,575,552): one count, not a list.
_GROUPED = re.compile(r"\s*\d{1,3}(?:,\d{3})+(?:\.\d+)?\s*[KkMmBbGgTt]?\s*")


def parse_counts(text: str, what: str) -> int | list[int]:
    """One count, or a comma-separated list of them ("3B,7B,13B": a sweep of targets) as a list."""
    if _GROUPED.fullmatch(text or ""):
        return parse_count(text, what)
    parts = (text or "").split(",")
    if len(parts) == 1:
        return parse_count(parts[0], what)
    return [parse_count(t, what) for t in parts]


@dataclass(frozen=True)
class ChinchillaMultiple:
    """Training tokens written as a multiple of the Chinchilla budget 20 N (``2xC``, as the
    ladder's runs are named: Hoffmann et al., 2022): each target's own N sets its tokens."""

    multiple: float
    """Tokens per 20 parameters: 1 is Chinchilla-optimal, the OLMo 2 7B-4T target is at 28.6."""

    def tokens(self, n: float, what: str = "--tokens") -> int:
        from .ladder import train_tokens

        d = train_tokens(n, self.multiple)
        if not d < _MAX_COUNT:
            raise TaskladderError(f"{what}: {self.multiple:g}xC of N = {n:.3g} is {d:.3g} tokens, too large "
                                  f"(counts must be below {_MAX_COUNT:.2g})")
        return max(1, d)


_MULTIPLE = re.compile(r"\s*([0-9]*\.?[0-9]+(?:[eE][+-]?\d+)?)\s*[xX]\s*[cC]\s*")


def parse_tokens(text: str, what: str) -> int | ChinchillaMultiple | list:
    """Training tokens as :func:`parse_counts` reads them, or as a multiple of each target's
    Chinchilla budget (``2xC``; ``1xC,5xC`` for several), resolved by :func:`resolve_tokens`."""
    parts = [text] if _GROUPED.fullmatch(text or "") else (text or "").split(",")
    out = []
    for part in parts:
        m = _MULTIPLE.fullmatch(part)
        if m is None:
            if re.fullmatch(r"\s*-.*[xX]\s*[cC]\s*", part):
                raise TaskladderError(f"{what}: a multiple of the Chinchilla budget must be positive, got {part.strip()!r}")
            if "x" in part.lower():
                raise TaskladderError(f"{what}: {part.strip()!r} is neither a count nor a multiple of the Chinchilla "
                                      "budget (examples: 3.9e12, 4T, 2xC)")
            out.append(parse_count(part, what))
            continue
        v = float(m[1])
        if not (v > 0 and math.isfinite(v)):
            raise TaskladderError(f"{what}: a multiple of the Chinchilla budget must be positive and finite, "
                                  f"got {part.strip()!r}")
        out.append(ChinchillaMultiple(v))
    return out[0] if len(out) == 1 else out


def resolve_tokens(tokens, n: float, what: str = "--tokens") -> int:
    """A target's tokens: a count as it is, a :class:`ChinchillaMultiple` of its ``n``."""
    return tokens.tokens(n, what) if isinstance(tokens, ChinchillaMultiple) else tokens


def parse_flops(text: str, what: str) -> float:
    """Parse a compute budget (3e21, 300e18): a positive finite number, not bounded like a count."""
    return _parse_number(text, what, "3e21, 300e18, 1.5e24")


def parse_count(text: str, what: str) -> int:
    """Parse 6887575552, 6.9e9, 6.9B or 4T into an integer count."""
    return check_count(_parse_number(text, what), what, repr(text))


def check_count(v: float, what: str, shown: str | None = None) -> int:
    """``v`` as an integer count: at least 1 (it rounds to an integer: 0.4 would become 0) and
    below int64's range (the results table's n and d: anything past that is a typo)."""
    shown = shown or f"{v:.3g}"
    if not v >= 0.5:
        raise TaskladderError(f"{what}: a count must be at least 1, got {shown}")
    if not v < _MAX_COUNT:
        raise TaskladderError(f"{what}: {shown} is too large (counts must be below {_MAX_COUNT:.2g})")
    return int(round(v))


def _parse_number(text: str, what: str, examples: str = "6887575552, 6.9e9, 6.9B, 4T") -> float:
    """A positive finite number, with an optional K/M/B/G/T suffix (digits may be grouped by
    thousands separators, as taskladder prints 6,887,575,552, or underscores, as Python writes them)."""
    m = re.fullmatch(r"\s*([+-]?[0-9]*\.?[0-9]+(?:[eE][+-]?\d+)?)\s*([KkMmBbGgTt]?)\s*",
                     text.replace(",", "") if _GROUPED.fullmatch(text or "")
                     else re.sub(r"(?<=\d)_(?=\d)", "", text or ""))
    if not m:
        if str(text).strip().lstrip("+-").lower() in ("inf", "infinity", "nan"):  # float('inf') from Python
            raise TaskladderError(f"{what}: must be a finite number, got {text!r}")
        raise TaskladderError(f"{what}: {text!r} is not a number (examples: {examples})")
    v = float(m[1]) * _SUFFIX[m[2].upper()]
    if not v > 0:
        raise TaskladderError(f"{what}: must be positive, got {text!r}")
    if not math.isfinite(v):
        raise TaskladderError(f"{what}: {text!r} is too large (not a finite number)")
    return v


def parse_level(value, what: str = "--level") -> float:
    """An interval's level as a fraction: 0.9, or as people say it, 90 or "90%".

    A number in (0, 1) is a fraction and one in [10, 100) a percentage, Stata's range for its
    ``level(95)``, so the two readings never overlap; a bare 1 to 10 (1.5: 1.5%, or a slip for 0.15?)
    is refused, as is anything outside both ranges, in one clear error; "5%" says what it means."""
    text = value.strip() if isinstance(value, str) else value
    pct = isinstance(text, str) and text.endswith("%")
    try:
        v = float(text[:-1] if pct else text)
    except (TypeError, ValueError):
        raise TaskladderError(f"{what} must be a number, got {value!r}") from None
    if pct and 0.0 < v < 100.0:
        return v / 100.0
    if not pct and 0.0 < v < 1.0:
        return v
    if not pct and 10.0 <= v < 100.0:  # 90 for 90%: a level above 1 can only be a percentage
        return v / 100.0
    raise TaskladderError(f"{what} must be a fraction between 0 and 1 or a percentage (90 or 90%), got {value!r}")


def percent(level: float) -> str:
    """An interval's level as people read it: 90%, 99.9%, 99.9999% (not rounded to 100%)."""
    return f"{level * 100:.6g}%"


def short_count(v: float) -> str:
    """A count as people write it, three digits and a suffix the parsers read back: 24.6B, 14T, 370M."""
    if v >= 999.5e12:  # past T: 1.4e+15, not 1.41e+03T
        return f"{v:.3g}"
    for suffix, scale in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if v >= scale * 0.9995:
            return f"{v / scale:.3g}{suffix}"
    return f"{v:.3g}"

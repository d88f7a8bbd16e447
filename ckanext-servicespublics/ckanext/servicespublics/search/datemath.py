"""Solr date math (``NOW-1YEAR/DAY``, ``2024-01-01T00:00:00Z+6MONTHS``)."""
from __future__ import annotations

import datetime as dt
import re

from dateutil.parser import isoparse
from dateutil.relativedelta import relativedelta

_UNITS = {
    "YEAR": "years", "YEARS": "years",
    "MONTH": "months", "MONTHS": "months",
    "DAY": "days", "DAYS": "days", "DATE": "days",
    "HOUR": "hours", "HOURS": "hours",
    "MINUTE": "minutes", "MINUTES": "minutes",
    "SECOND": "seconds", "SECONDS": "seconds",
    "MILLI": "microseconds", "MILLIS": "microseconds",
    "MILLISECOND": "microseconds", "MILLISECONDS": "microseconds",
}
_OP_RE = re.compile(r"([+\-/])(\d*)([A-Z]+)")
_ANCHOR_RE = re.compile(
    r"^(NOW|\d{4}(?:-\d{2}(?:-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?)?)?Z?)"
)


class DateMathError(ValueError):
    pass


def _truncate(value: dt.datetime, unit: str) -> dt.datetime:
    if unit == "years":
        return value.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    if unit == "months":
        return value.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if unit == "days":
        return value.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "hours":
        return value.replace(minute=0, second=0, microsecond=0)
    if unit == "minutes":
        return value.replace(second=0, microsecond=0)
    if unit == "seconds":
        return value.replace(microsecond=0)
    return value


def parse(text: str, now: dt.datetime | None = None) -> dt.datetime:
    """Turn a Solr date (with optional date math) into an aware datetime."""
    raw = text.strip().upper().replace("\\", "")
    match = _ANCHOR_RE.match(raw)
    if not match:
        raise DateMathError(f"invalid date: {text!r}")
    anchor = match.group(1)
    if anchor == "NOW":
        value = now or dt.datetime.now(dt.timezone.utc)
    else:
        try:
            value = isoparse(anchor.rstrip("Z").replace(" ", "T"))
        except ValueError as e:
            raise DateMathError(f"invalid date: {text!r}") from e
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
    rest = raw[match.end():]
    pos = 0
    while pos < len(rest):
        op = _OP_RE.match(rest, pos)
        if not op or op.group(3) not in _UNITS:
            raise DateMathError(f"invalid date math in {text!r} at {rest[pos:]!r}")
        sign, amount, unit = op.group(1), op.group(2), _UNITS[op.group(3)]
        if sign == "/":
            if amount:
                raise DateMathError(f"invalid rounding in {text!r}")
            value = _truncate(value, unit)
        else:
            n = int(amount or "1") * (1 if sign == "+" else -1)
            if unit == "microseconds":
                n *= 1000
            value = value + relativedelta(**{unit: n})
        pos = op.end()
    return value

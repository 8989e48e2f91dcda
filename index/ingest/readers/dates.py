"""Publication dates as ISO strings, whatever shape the source gave them in."""

from __future__ import annotations

import re
import time
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime

from citebot.index.errors import BadInputError

_SLASHED = re.compile(r"^(\d{4})[/.](\d{1,2})[/.](\d{1,2})$")
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def iso_date(value: object) -> str | None:
    """``YYYY-MM-DD`` or a full ISO timestamp, or None when it cannot be read.

    Accepts date/datetime objects (YAML front matter), ``time.struct_time``
    (feedparser), ISO strings, ``2022/06/12`` (RealTime QA) and RFC 822 dates
    (RSS ``pubDate``). Unreadable values give None rather than a wrong date.
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time.struct_time):
        return datetime(*value[:6], tzinfo=UTC).isoformat()
    if isinstance(value, str):
        return _iso_from_string(value.strip())
    return None


def _iso_from_string(text: str) -> str | None:
    if not text:
        return None
    if _DATE_ONLY.match(text):
        return _valid_date(text)
    slashed = _SLASHED.match(text)
    if slashed:
        year, month, day = (int(part) for part in slashed.groups())
        return _valid_date(f"{year:04d}-{month:02d}-{day:02d}")
    try:
        return datetime.fromisoformat(text).isoformat()
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(text).isoformat()
    except (TypeError, ValueError, IndexError):
        return None


def _valid_date(text: str) -> str | None:
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        return None


def day_of(value: object) -> date | None:
    """The calendar day of any value :func:`iso_date` reads (an as-of date, say)."""
    iso = iso_date(value)
    return date.fromisoformat(iso[:10]) if iso else None


def parse_day(value: object, what: str) -> date:
    """A user-given day (``--as-of``, an ``as_of`` field); a one-line error names ``what``."""
    day = day_of(value)
    if day is None:
        raise BadInputError(f"{what} must be a date like 2022-06-17, not {value!r}")
    return day

"""Bytes to text for files of unknown origin: UTF-8 first, then legacy encodings.

Old news dumps (e.g. BBC News, 2005) mix in cp1252/latin-1 bytes; losing a
whole article over one pound sign would be worse than guessing the encoding.
"""

from __future__ import annotations

import codecs

from citebot.index.errors import SourceError

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_ALLOWED_CONTROLS = frozenset("\t\n\r\f\v")
_MAX_ODD_SHARE = 0.10


def decode_text(data: bytes) -> str:
    """Decode file bytes, raising ``SourceError`` for empty or binary content."""
    if not data.strip():
        raise SourceError("empty file")
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return _checked(data.decode(encoding, errors="replace"))
    if b"\x00" in data[:8192]:
        raise SourceError("binary file")
    for encoding in ("utf-8", "cp1252"):
        try:
            return _checked(data.decode(encoding))
        except UnicodeDecodeError:
            continue
    return _checked(data.decode("latin-1"))


def _checked(text: str) -> str:
    """Reject text that is mostly control characters: a binary file in disguise."""
    if not text.strip():
        raise SourceError("empty file")
    sample = text[:20000]
    odd = sum(1 for ch in sample if _is_odd(ch))
    if odd / len(sample) > _MAX_ODD_SHARE:
        raise SourceError("binary file")
    return text


def _is_odd(ch: str) -> bool:
    code = ord(ch)
    if ch in _ALLOWED_CONTROLS:
        return False
    return code < 0x20 or 0x7F <= code <= 0x9F or code == 0xFFFD

"""Reading user files as text, with errors that name the file and line (a leaf module: the trace,
weather and scenario readers share it)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["decode_text", "read_text"]


def decode_text(data: bytes, where: str, error: type[Exception] = ValueError, fallback: str | None = None) -> str:
    """``data`` as UTF-8 text (a BOM allowed). Not UTF-8: decode with ``fallback`` when given
    (EPW headers are often Latin-1), else raise ``error(f"{where}{line}: not UTF-8 text ...")``
    (``where`` is e.g. ``"file.csv:"`` or ``"line "``)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        if fallback is not None:
            return data.decode(fallback, errors="replace")
        line = data[: e.start].count(b"\n") + 1
        raise error(f"{where}{line}: not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start})") from None


def read_text(path: str | Path, error: type[Exception] = ValueError, fallback: str | None = None) -> str:
    """The file at ``path`` as text (see :func:`decode_text`); unreadable files raise ``error``
    naming the file and the reason."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise error(f"{path}: cannot read file: {e.strerror or e}") from None
    return decode_text(data, f"{path}:", error, fallback)

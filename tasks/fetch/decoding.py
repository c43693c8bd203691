"""Byte decoding for the fetch stage: UTF-8/UTF-16/cp1256 detection and mojibake repair."""

from __future__ import annotations

import re

from tasks.errors import Reason
from tasks.fetch.sources import _quarantine

# Letters in these blocks count as Arabic script (Arabic, Supplement, Presentation Forms).
_ARABIC_RANGES = ((0x0600, 0x06FF), (0x0750, 0x077F), (0xFB50, 0xFDFF), (0xFE70, 0xFEFF))


def _is_arabic_char(ch: str) -> bool:
    o = ord(ch)
    return any(a <= o <= b for a, b in _ARABIC_RANGES)


_MIXED_SCRIPT = re.compile(
    r"[\u0621-\u064a][a-zA-Z\u00c0-\u024f]|[a-zA-Z\u00c0-\u024f][\u0621-\u064a]"
)


def _arabic_score(text: str) -> float | None:
    """How plausibly ``text`` is real Arabic (share of non-ASCII letters that are Arabic).

    None when it reads as mojibake: replacement characters, C1 controls, or Arabic letters
    glued to Latin ones inside words (``Le prىsident`` is Latin-1 French read as
    ISO-8859-6; ``ê`` inside an Arabic word is ISO-8859-6 read as cp1256).
    """
    sample = text[:20000]
    if "\ufffd" in sample or any("\x80" <= c <= "\x9f" for c in sample):
        return None
    non_ascii = [c for c in sample if ord(c) > 127 and c.isalpha()]
    arabic = sum(1 for c in non_ascii if _is_arabic_char(c))
    if not arabic:
        return 0.0
    if len(_MIXED_SCRIPT.findall(sample)) > max(1, arabic // 50):
        return None
    # UTF-8 Arabic read as cp1256 turns every lead byte into ط or ظ (ط§ظ„ for ال);
    # in real Arabic text the two letters are ~1.5 % of letters.
    if arabic >= 20 and sum(1 for c in non_ascii if c in "طظ") > 0.25 * arabic:
        return None
    return arabic / len(non_ascii)


# The article ال and the most frequent particles (في، من، على، إلى، أن).
_COMMON_ARABIC = re.compile(r"(?<![\u0621-\u064a])(?:ال|في|من|على|إلى|أن)")


def _plausible_arabic(text: str) -> bool:
    score = _arabic_score(text)
    return score is not None and score >= 0.9


def _looks_binary(data: bytes) -> bool:
    sample = data[:8192]
    if b"\x00" in sample:
        return True
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13, 27))
    return controls > max(2, len(sample) // 100)


_MOJIBAKE = re.compile("[ØÙÚÛ][\u0080-\u00ff\u0152-\u2122]")


def _decode_bytes(data: bytes, name: str = "input") -> tuple[str, str]:
    """Decode raw bytes to text and name the encoding.

    Tries BOMs (UTF-8, UTF-16), strict UTF-8, BOM-less UTF-16, then the legacy Arabic
    code pages (Windows-1256, ISO-8859-6), keeping only a decoding that reads as Arabic.

    Returns:
        ``(text, encoding)`` with encoding one of utf-8, utf-8-sig, utf-16, utf-16-le,
        utf-16-be, cp1256, iso8859_6 (or another charset-normalizer guess).

    Raises:
        _Bad: quarantined ``binary_file`` or ``bad_encoding``.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        candidates = ["utf-8-sig"]
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        candidates = ["utf-16"]
    else:
        candidates = []
    for enc in candidates:
        try:
            return data.decode(enc), enc
        except UnicodeDecodeError as exc:
            raise _quarantine(
                Reason.BAD_ENCODING, f"{name}: has a {enc} BOM but does not decode: {exc}"
            ) from exc
    utf16 = _guess_bomless_utf16(data)
    if utf16:
        return data.decode(utf16), utf16
    if _looks_binary(data):
        raise _quarantine(Reason.BINARY_FILE, f"{name}: binary data, not text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        # a download cut inside the last character: keep the text, drop the partial char
        text = None
        if exc.reason == "unexpected end of data" and exc.start >= len(data) - 3:
            try:
                text = data[: exc.start].decode("utf-8")
            except UnicodeDecodeError:
                text = None
    if text is not None:
        if _MOJIBAKE.search(text[:20000]) and len(_MOJIBAKE.findall(text[:20000])) > 3:
            raise _quarantine(
                Reason.BAD_ENCODING,
                f"{name}: UTF-8 text that is itself mojibake (Arabic decoded as Latin and "
                "re-encoded)",
            )
        return text, "utf-8"
    # Both legacy Arabic code pages decode most bytes; keep the one that reads as Arabic.
    # When both do (they share ء..ض), the one with more common words wins: ISO-8859-6's
    # ل is cp1256's ن, so ال and في vanish from a wrong decoding. Remaining ties go to
    # cp1256, by far the more common in older corpora.
    best: tuple[float, int, str, str] | None = None
    for enc in ("cp1256", "iso8859_6"):
        try:
            text = data.decode(enc)
        except UnicodeDecodeError:
            continue
        score = _arabic_score(text)
        if score is None or score < 0.9:
            continue
        common = len(_COMMON_ARABIC.findall(text[:20000]))
        if best is None or (score, common) > best[:2]:
            best = (score, common, text, enc)
    if best is not None:
        return best[2], best[3]
    guess = _charset_normalizer_guess(data)
    if guess is not None:
        return guess
    raise _quarantine(
        Reason.BAD_ENCODING,
        f"{name}: not UTF-8/UTF-16 and does not decode as Arabic in cp1256 or iso8859_6",
    )


def _arabic_share(text: str) -> float:
    letters = [c for c in text[:20000] if c.isalpha()]
    if not letters:
        return 0.0
    return sum(1 for c in letters if _is_arabic_char(c)) / len(letters)


def _guess_bomless_utf16(data: bytes) -> str | None:
    # Arabic UTF-16 without a BOM: every other byte is 0x06 (Arabic block) or 0x00.
    sample = data[:4096]
    if len(sample) < 8 or len(data) % 2:
        return None
    even, odd = sample[0::2], sample[1::2]
    for enc, high in (("utf-16-le", odd), ("utf-16-be", even)):
        share = sum(1 for b in high if b in (0x00, 0x06)) / len(high)
        zeros = high.count(0) / len(high)
        if share > 0.95 and zeros > 0.05:
            try:
                text = data.decode(enc)
            except UnicodeDecodeError:
                continue
            if _plausible_arabic(text):
                return enc
    return None


def _charset_normalizer_guess(data: bytes) -> tuple[str, str] | None:
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # pragma: no cover
        return None
    best = from_bytes(data[:200_000]).best()
    if best is None or best.encoding is None:
        return None
    try:
        text = data.decode(best.encoding)
    except (UnicodeDecodeError, LookupError):
        return None
    if _plausible_arabic(text) and _arabic_share(text) >= 0.5:
        return text, best.encoding
    return None

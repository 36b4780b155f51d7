"""An email as the bytes sent over SMTP, written directly rather than built and flattened.

The notifier's emails always have the same shape (plain text and HTML as alternatives, easy read
pictures beside the HTML, the calendar invitation beside both), and most of their headers are the
same in every message. So each email is written here as the bytes the email package makes for it
(its older classes, MIMEMultipart and MIMEText with quoted-printable UTF-8, turned into bytes by
BytesGenerator with the compat32 policy, as aiosmtplib's send_message does), without building
a tree of objects and walking it:

- a header is folded by the email package once per name and value and the result kept; a value
  short enough not to need folding (an address, a key), or one long word (a Message-ID), is
  written as the package would write it;
- a multipart's boundary is drawn from `random` as the package draws it, innermost first, and its
  Content-Type header folded once per length of boundary;
- a part's text is quoted-printable encoded by a shorter route to the same text: the characters
  to quote are found with one search, not looked up one by one;
- a picture's part is written once and kept.

tests/unit/notifier/test_email_bytes.py compares the bytes with the email package's own, for every
message of the gallery and for awkward names, addresses and words.
"""

from __future__ import annotations

import io
import random
import re
import sys
from email.generator import BytesGenerator
from email.header import Header
from email.message import Message
from email.policy import Compat32
from functools import lru_cache

NL = b"\n"  # compat32's line ending; aiosmtplib turns each into CRLF as it sends
# As the email package writes it (email/generator.py: _width, _fmt): the token zero-padded to this width.
_WIDTH = len(repr(sys.maxsize - 1))
_COMPAT32 = Compat32()
MAX_LINE = 78  # compat32 folds a header longer than this


@lru_cache(maxsize=4096)
def _folded(name: str, value: str) -> bytes:
    return _COMPAT32.fold_binary(name, value)


# Printable ASCII in words separated by single spaces: the email package writes such a value as it is.
_PLAIN_VALUE = re.compile(r"[!-~]+(?: [!-~]+)*")


# One word with none of the characters compat32 may fold at (space, ";" and ","): too long for the
# header's line, the email package puts it alone on the next one, as it is (a Message-ID, say).
_ONE_WORD = re.compile(r"[A-Za-z0-9.<>@_:=/+-]+")


def header_line(name: str, value: str, kept: bool = True) -> bytes:
    """`name: value` and its line ending, folded as compat32 folds it. A value no other message has
    (its Message-ID, its key) is folded without being kept (kept=False): kept, each message's would
    fill the cache with lines never asked for again and push out the ones that are."""
    if len(name) + 2 + len(value) <= MAX_LINE and _PLAIN_VALUE.fullmatch(value):
        return f"{name}: {value}\n".encode("ascii")
    if _ONE_WORD.fullmatch(value):
        return f"{name}: \n {value}\n".encode("ascii")
    return _folded(name, value) if kept else _COMPAT32.fold_binary(name, value)


def utf8_header_line(name: str, value: str) -> bytes:
    """A header beyond plain ASCII, encoded as email needs (Header(value, "utf-8"), as compat32 folds it)."""
    return _COMPAT32.fold_binary(name, Header(value, "utf-8"))  # type: ignore[arg-type]  # typeshed leaves out Header, which compat32 folds


# ---- quoted-printable, as email.quoprimime.body_encode writes it ----

# The characters a body may keep as they are: printable ASCII but "=", tab and line endings.
_QUOTE = [f"={octet:02X}" for octet in range(256)]
for _octet in b"\t\n\r !\"#$%&'()*+,-./0123456789:;<>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~":
    _QUOTE[_octet] = chr(_octet)
_TO_QUOTE_BUT_EQUALS = re.compile(r"[^\t\n\r -~]")  # "=" is quoted before this looks
_KEPT_OCTETS = bytes(range(0x20, 0x7F)) + b"\t\n\r"
QP_LINE = 76


def _quoted(match: re.Match[str]) -> str:
    return _QUOTE[ord(match[0])]


def quoted_printable(text: str) -> str:
    """`text` as UTF-8 in quoted-printable, lines of at most 76 characters ending in "\\n": the same
    as Charset("utf-8") with QP body encoding gives (email.quoprimime.body_encode)."""
    if not text:
        return text
    plain = text.isascii()
    body = text if plain else text.encode("utf-8").decode("latin1")  # a character an octet
    # "=" first, as "=3D": that adds no character the search below would quote again.
    body = body.replace("=", "=3D")
    # Plain ASCII has a character to quote only if it has a control character: looked for octet by octet.
    if not plain or body.encode("ascii").translate(None, _KEPT_OCTETS):
        body = _TO_QUOTE_BUT_EQUALS.sub(_quoted, body)
    lines: list[str] = []
    append = lines.append
    for line in body.splitlines():
        if len(line) <= QP_LINE and line[-1:] not in _BLANK:  # most lines: as they are
            append(line)
            continue
        start = 0
        last_start = len(line) - 1 - QP_LINE
        while start <= last_start:  # a soft break before the 76th character, never inside an "=XX"
            stop = start + QP_LINE - 1
            if line[stop - 2] == "=":
                append(line[start : stop - 1])
                start = stop - 2
            elif line[stop - 1] == "=":
                append(line[start:stop])
                start = stop - 1
            else:
                append(line[start:stop] + "=")
                start = stop
        if line[-1] in _BLANK:  # white space at the end of a line is quoted, or kept before a soft break
            room = start - last_start
            quoted = f"={ord(line[-1]):02X}"
            if room >= 3:
                end = quoted
            elif room == 2:
                end = line[-1] + "=\n"
            else:
                end = "=\n" + quoted
            append(line[start:-1] + end)
        else:
            append(line[start:])
    if body[-1] in "\r\n":
        append("")
    return "\n".join(lines)


_BLANK = (" ", "\t")


# ---- parts ----

_FROM_LINE = re.compile(r"^From ", re.MULTILINE)  # compat32 writes such a line as ">From " (mangle_from_)


@lru_cache(maxsize=8)
def text_head(subtype: str) -> bytes:
    """A text part's headers and the blank line after them, as MIMEText(text, subtype, UTF-8) has them."""
    kind = header_line("Content-Type", f'text/{subtype}; charset="utf-8"')
    lines = [kind, header_line("MIME-Version", "1.0"), header_line("Content-Transfer-Encoding", "quoted-printable")]
    if subtype == "calendar":
        # The invitation's method, set on the part once made, moves its Content-Type after the others.
        lines = [*lines[1:], header_line("Content-Type", 'text/calendar; charset="utf-8"; method="PUBLISH"')]
        lines.append(header_line("Content-Disposition", 'attachment; filename="first-meeting.ics"'))
    return b"".join([*lines, NL])


def text_part(text: str, subtype: str) -> bytes:
    """A text part: its headers, then its words in quoted-printable UTF-8."""
    body = quoted_printable(text)
    if "From " in body:
        body = _FROM_LINE.sub(">From ", body)
    return text_head(subtype) + body.encode("ascii")


def part_bytes(part: Message) -> bytes:
    """A part with no parts of its own (a picture), as the email package turns it into bytes."""
    with io.BytesIO() as out:
        BytesGenerator(out, policy=_COMPAT32).flatten(part)
        return out.getvalue()


def boundary(parts: bytes) -> str:
    """A multipart's boundary, drawn as the email package draws it; it must not be in its parts.
    The package looks for a line of exactly "--boundary" or "--boundary--"; this looks for it anywhere."""
    token = random.randrange(sys.maxsize)
    drawn = ("=" * 15) + f"{token:0{_WIDTH}d}" + "=="
    chosen, counter = drawn, 0
    while b"--" + chosen.encode("ascii") in parts:
        chosen = f"{drawn}.{counter}"
        counter += 1
    return chosen


@lru_cache(maxsize=32)
def _multipart_head(subtype: str, length: int) -> tuple[bytes, bytes]:
    """A multipart's Content-Type, folded once for every boundary of this length (a boundary has no
    spaces or separators, so only its length moves the fold), split where the boundary goes."""
    stand_in = "0" * length
    folded = header_line("Content-Type", f'multipart/{subtype}; boundary="{stand_in}"')
    before, after = folded.split(f'"{stand_in}"'.encode("ascii"))
    return before + b'"', b'"' + after + header_line("MIME-Version", "1.0")


def multipart(subtype: str, parts: list[bytes], headers: bytes = b"") -> bytes:
    """A multipart holding `parts`, with `headers` after its own (a whole email's From, To and so on)."""
    chosen = boundary(NL.join(parts))
    before, after = _multipart_head(subtype, len(chosen))
    line = b"--" + chosen.encode("ascii")
    return b"".join([before, line[2:], after, headers, NL, line, NL, (NL + line + NL).join(parts), NL, line, b"--", NL])

"""Short answer codes and references: what people type, tap or quote to say yes or no.

A code goes at the end of a short link (http://127.0.0.1:8000/a/k7mp2qr9wxtd), so a text
message fits and a person can type it from a letter: twelve lower-case letters and digits,
without the ones easily mixed up (0 and o, 1, i and l). Only a SHA-256 digest of a code is
stored. A reference (K7P-4QXM) is not secret: people quote it on the phone or write it on a
reply slip, and its last character is a check character, so most typing mistakes are caught.
Pure: no input or output.
"""

from __future__ import annotations

import hashlib
import re
import secrets

CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
CODE_LENGTH = 12  # 31 ** 12 is about 8 * 10 ** 17: guessing one is hopeless
CODE_PATH = "/a/"
REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0, O, 1 or I
REFERENCE_RANDOM = 6
MAX_LINK_LENGTH = 45
CODE_PATTERN = re.compile(f"^[{CODE_ALPHABET}]{{{CODE_LENGTH}}}$")


class ReferenceProblem(ValueError):
    """A reference that cannot be right, with how to fix it."""


def random_characters(alphabet: str, length: int) -> str:
    """`length` characters, each equally likely to be any of `alphabet`: the digits of one random number
    below len(alphabet) ** length, drawn from the system's randomness in one go (rarely two) where a
    character at a time drew once each (a round's publishing makes three such strings for every person)."""
    number = secrets.randbelow(len(alphabet) ** length)
    characters = []
    for _ in range(length):
        number, digit = divmod(number, len(alphabet))
        characters.append(alphabet[digit])
    return "".join(characters)


def new_code() -> str:
    return random_characters(CODE_ALPHABET, CODE_LENGTH)


def code_digest(code: str) -> str:
    """What is stored for a code: its SHA-256 digest (a leaked database gives no working link)."""
    return hashlib.sha256(code.encode("ascii")).hexdigest()


def read_code(text: str) -> str | None:
    """The code as typed (capitals allowed), or None when it cannot be one."""
    code = text.strip().lower()
    return code if CODE_PATTERN.match(code) else None


def answer_link(public_url: str, code: str) -> str:
    return f"{public_url.rstrip('/')}{CODE_PATH}{code}"


def check_character(body: str) -> str:
    """The Luhn mod N check character: catches any one wrong character and most neighbours swapped."""
    size = len(REFERENCE_ALPHABET)
    total, factor = 0, 2
    for c in reversed(body):
        addend = factor * REFERENCE_ALPHABET.index(c)
        total += addend // size + addend % size
        factor = 3 - factor
    return REFERENCE_ALPHABET[(size - total % size) % size]


def new_reference() -> str:
    body = random_characters(REFERENCE_ALPHABET, REFERENCE_RANDOM)
    whole = body + check_character(body)
    return f"{whole[:3]}-{whole[3:]}"


def read_reference(text: str) -> str:
    """A reference as someone wrote or said it (any case, spaces or dashes anywhere), in its usual form."""
    plain = re.sub(r"[\s\-–.]", "", text).upper()
    if len(plain) != REFERENCE_RANDOM + 1:
        raise ReferenceProblem(
            f"A reference has {REFERENCE_RANDOM + 1} letters and numbers, like K7P-4QXM; this one has {len(plain)}"
        )
    if wrong := sorted({c for c in plain if c not in REFERENCE_ALPHABET}):
        raise ReferenceProblem(
            f"A reference never has {', '.join(wrong)} in it (it has no 0, O, 1 or I): check it against the letter"
        )
    if check_character(plain[:-1]) != plain[-1]:
        raise ReferenceProblem(
            "This reference has a mistake in it: check each letter and number against the letter or reply slip"
        )
    return f"{plain[:3]}-{plain[3:]}"

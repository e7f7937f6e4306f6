"""API key format: `rheo_live_` or `rheo_test_`, then 32 base62 characters of which the
last 6 are a CRC32 checksum of everything before them (as GitHub's tokens carry one), so
a mistyped or truncated key is refused without touching the database.

Keys are stored only as a SHA-256 digest: a key has ~154 random bits, so a fast hash is
as safe as a slow one and costs nothing per request."""

import hashlib
import secrets
import string
import zlib

ALPHABET = string.digits + string.ascii_uppercase + string.ascii_lowercase
PREFIXES = {"live": "rheo_live_", "test": "rheo_test_"}
RANDOM_LENGTH = 26
CHECKSUM_LENGTH = 6
KEY_LENGTH = len("rheo_live_") + RANDOM_LENGTH + CHECKSUM_LENGTH
DISPLAY_PREFIX_LENGTH = len("rheo_live_") + 4


def _base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, digit = divmod(number, 62)
        digits.append(ALPHABET[digit])
    return "".join(reversed(digits))


def checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode()), CHECKSUM_LENGTH)


def generate(mode: str) -> str:
    body = PREFIXES[mode] + "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_LENGTH))
    return body + checksum(body)


def mode_of(key: str) -> str | None:
    """The key's mode if it is well formed and its checksum holds, else None."""
    if len(key) != KEY_LENGTH:
        return None
    mode = next((m for m, prefix in PREFIXES.items() if key.startswith(prefix)), None)
    if mode is None or any(c not in ALPHABET for c in key[len(PREFIXES[mode]) :]):
        return None
    body, check = key[:-CHECKSUM_LENGTH], key[-CHECKSUM_LENGTH:]
    return mode if secrets.compare_digest(checksum(body), check) else None


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def display_prefix(key: str) -> str:
    return key[:DISPLAY_PREFIX_LENGTH]

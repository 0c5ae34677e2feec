"""Chunk payloads: zlib-compressed, then sealed with the installation's Fernet key.

Every chunk is sealed, not only those that look like they hold a credential:
a transcript carries whatever the agent read (``.env`` files, tool output,
pasted tokens), and measured on the fixtures the detector (``core/secrets.py``)
runs at ~1.5 MB/s while compress + seal + open runs at ~60 MB/s, and it flagged
a quarter of the 256 KiB blocks anyway. Sealing everything costs ~60 bytes per
chunk and leaves no guess about what a detector might have missed.

The stored payload is the Fernet token base64-decoded (the token's base64
would add a third to every chunk); it is encoded back before opening.
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from typing import TYPE_CHECKING, Any

from claude_tui.core.errors import SecretUnavailable

if TYPE_CHECKING:
    from cryptography.fernet import MultiFernet

BLOCK = 256 * 1024  # chunk size: 0.18 of the plain size on the fixtures (1 MiB: 0.18 too)
LEVEL = 6  # zlib level: 9 is half as fast for 1% less
ZLIB = "zlib+fernet"
RAW = "raw+fernet"  # what zlib would not shrink (images in tool results)


class ChunkDamaged(Exception):
    """A stored chunk does not open to the bytes it was stored for."""


def chunk_id(plain: bytes) -> str:
    """A chunk's address: the SHA-256 of its plain bytes."""
    return hashlib.sha256(plain).hexdigest()


def fernet_of(sealer: Any, *, sealing: bool = True) -> MultiFernet:
    """The data dir's Fernet keys (made on first use), from the coordinator's sealer.

    Asked each time a chunk is packed or opened: the sealer reloads the keys
    when another process rotated them, and a chunk packed for a write is
    checked against the rotation when that write commits.

    Raises:
        SecretUnavailable: the sealer does not encrypt, or the key is missing or wrong.
    """
    keys = getattr(sealer, "sealing_keys" if sealing else "reading_keys", None)
    if keys is None:
        raise SecretUnavailable(
            "the transcript archive needs the encryption key of the data dir, and this "
            "coordinator does not encrypt; nothing was archived"
        )
    multi: MultiFernet = keys()
    return multi


def pack(plain: bytes, fernet: MultiFernet) -> tuple[str, bytes]:
    """(codec, payload) of one chunk."""
    packed = zlib.compress(plain, LEVEL)
    codec, body = (ZLIB, packed) if len(packed) < len(plain) else (RAW, plain)
    return codec, base64.urlsafe_b64decode(fernet.encrypt(body))


def unpack(chunk: str, size: int, codec: str, payload: bytes, fernet: MultiFernet) -> bytes:
    """The plain bytes of a stored chunk, checked against its id and size.

    Raises:
        ChunkDamaged: it does not open, or opens to other bytes.
        SecretUnavailable: no key opens it (a wrong or missing key).
    """
    from cryptography.fernet import InvalidToken

    if codec not in (ZLIB, RAW):
        raise ChunkDamaged(f"archive chunk {chunk[:12]}… has an unknown codec {codec!r}")
    try:
        body = fernet.decrypt(base64.urlsafe_b64encode(bytes(payload)))
    except InvalidToken:
        raise SecretUnavailable(
            f"archive chunk {chunk[:12]}… does not open with the data dir's key (a wrong key, "
            "or a damaged chunk)"
        ) from None
    try:
        plain = zlib.decompress(body) if codec == ZLIB else body
    except zlib.error as exc:
        raise ChunkDamaged(f"archive chunk {chunk[:12]}… does not decompress: {exc}") from None
    if len(plain) != size or chunk_id(plain) != chunk:
        raise ChunkDamaged(f"archive chunk {chunk[:12]}… holds other bytes than it was stored for")
    return plain


def rotate(payload: bytes, fernet: MultiFernet) -> bytes:
    """A payload sealed again under the primary key (key rotation)."""
    token = fernet.rotate(base64.urlsafe_b64encode(bytes(payload)))
    return base64.urlsafe_b64decode(token)

"""A batch's content hash: SHA-256 over the canonical text of its transfers, in batch order.

Written with the batch (in Python, or on PostgreSQL by the small-batch statement itself, which
must produce the very same bytes: see store_postgres._LINE) and recomputed by ``verify``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from card_service.ledger.rules import StoredTransfer

# ids as 32 lowercase hex digits, NULLs as nothing, integers in decimal, text as UTF-8.
_LINE = b"%032x|%d|%d|%d|%s|%s|%s|%d|%d|%s|%d|%d|%d\n"


def transfer_bytes(t: StoredTransfer | tuple[Any, ...]) -> bytes:
    """The canonical form of one transfer, as hashed at commit and again by verify."""
    (tid, dr, cr, amount, pending, code, user_data, flags, timeout, expires, ts, drb, crb) = t[:13]
    return _LINE % (
        tid.int, dr, cr, amount,
        b"" if pending is None else b"%032x" % pending.int,
        code.encode(),
        b"" if user_data is None else user_data.encode(),
        flags, timeout,
        b"" if expires is None else b"%d" % expires,
        ts, drb, crb,
    )  # fmt: skip


def content_hash(transfers: Iterable[StoredTransfer | tuple[Any, ...]]) -> bytes:
    return hashlib.sha256(b"".join(map(transfer_bytes, transfers))).digest()

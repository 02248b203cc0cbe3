"""A batch's content hash: SHA-256 over the canonical text of its transfers, in batch order.

Written with the batch (in Python, or on PostgreSQL by the small-batch statement itself, which
must produce the very same bytes: see store._LINE) and recomputed by ``verify``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from card_service.ledger.rules import StoredTransfer


def transfer_bytes(t: StoredTransfer | tuple[Any, ...]) -> bytes:
    """The canonical form of one transfer, as hashed at commit and again by verify."""
    (tid, dr, cr, amount, pending, code, user_data, flags, timeout, expires, ts, drb, crb) = t[:13]
    return (
        f"{tid.hex}|{dr}|{cr}|{amount}|{pending.hex if pending else ''}|{code}|"
        f"{user_data if user_data is not None else ''}|{flags}|{timeout}|"
        f"{expires if expires is not None else ''}|{ts}|{drb}|{crb}\n"
    ).encode()


def content_hash(transfers: Iterable[StoredTransfer | tuple[Any, ...]]) -> bytes:
    h = hashlib.sha256()
    for t in transfers:
        h.update(transfer_bytes(t))
    return h.digest()

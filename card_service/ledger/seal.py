"""Tamper evidence: a hash over each batch's transfers, and a chain over the batches.

A batch's ``content_hash`` is written in the same transaction as its transfers. The chain links
committed batches in order: ``chain_hash = sha256(previous chain_hash || batch id || content_hash)``.
Linking happens in ``seal()``, a short transaction run after commits (by the web service's
maintenance loop, by the CLI and before every verify), so that concurrent writers never wait on
one global chain head while their commit is flushed to disk. See docs/decisions/0002.
"""

from __future__ import annotations

import hashlib

from sqlalchemy.orm import Session

from card_service.ledger.digest import content_hash, transfer_bytes
from card_service.ledger.store import store_for

GENESIS = b"\x00" * 32
__all__ = ["GENESIS", "content_hash", "link", "seal", "transfer_bytes"]


def link(previous: bytes, batch_id: int, batch_hash: bytes) -> bytes:
    return hashlib.sha256(previous + batch_id.to_bytes(8, "big") + batch_hash).digest()


def seal(session: Session) -> int:
    """Append every batch that is committed and final to the chain; returns how many."""
    store = store_for(session)
    conn = store.raw(session)
    position, head, horizon = store.lock_seal_state(conn)
    new_horizon = store.seal_horizon(conn)
    batches = store.batches_to_seal(conn, horizon, new_horizon)
    links = []
    for batch_id, batch_hash in batches:
        position += 1
        head = link(head, batch_id, batch_hash)
        links.append((position, batch_id, head))
    store.append_chain(conn, links, position, head, new_horizon)
    return len(links)

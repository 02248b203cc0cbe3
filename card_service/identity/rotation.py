"""``keys rotate-pii``: a new master key, then every holder re-encrypted, batch by batch.

Each batch is its own short transaction: it locks a few holders, gives each a fresh data key,
re-encrypts their personal fields under it and wraps it under the new master key. The service
keeps serving meanwhile: it reloads the keyring file when it changes, and a holder is readable
under either master key. Interrupted, the command resumes where it stopped (holders still under
an old master key). Old master keys are retired once nothing is wrapped under them.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from card_service.audit import service as audit
from card_service.audit.schemas import Actor
from card_service.db import transaction
from card_service.identity.crypto import Keyring, open_fields, seal_fields
from card_service.identity.models import DataKey, Holder
from card_service.staff.models import StaffAccount
from card_service.staff.roles import utcnow

ACTOR = Actor.system("keys rotate-pii")


def pending(session: Session, master_key_id: str) -> int:
    return (
        session.scalar(
            select(func.count()).select_from(DataKey).where(DataKey.master_key_id != master_key_id)
        )
        or 0
    )


def _rotate_staff(session: Session, ring: Keyring) -> int:
    n = 0
    for account in session.scalars(
        select(StaffAccount).where(StaffAccount.totp_secret.is_not(None)).with_for_update()
    ):
        assert account.totp_secret is not None
        if ring.master_key_id(account.totp_secret) != ring.current:
            aad = f"totp:{account.username}".encode()
            account.totp_secret = ring.seal(ring.open(account.totp_secret, aad), aad)
            n += 1
    session.flush()
    return n


def rotate_batch(session: Session, ring: Keyring, batch_size: int) -> int:
    """Re-encrypt up to ``batch_size`` holders still under an old master key; returns how many."""
    rows = session.execute(
        select(Holder, DataKey)
        .join(DataKey, DataKey.holder_id == Holder.id)
        .where(DataKey.master_key_id != ring.current)
        .order_by(DataKey.holder_id)
        .limit(batch_size)
        .with_for_update()
    ).all()
    for holder, key in rows:
        old = ring.open(key.wrapped, b"dek:" + holder.pseudonym.encode() + key.key_id)
        assert holder.pii is not None
        fields = open_fields(old, key.key_id, holder.pseudonym, holder.pii)
        data_key, key_id = AESGCM.generate_key(256), os.urandom(8)
        holder.pii = seal_fields(data_key, key_id, holder.pseudonym, fields)
        key.key_id, key.master_key_id, key.created_at = key_id, ring.current, utcnow()
        key.wrapped = ring.seal(data_key, b"dek:" + holder.pseudonym.encode() + key_id)
    session.flush()
    if rows:
        audit.record(
            session,
            ACTOR,
            "keys.rotate_pii",
            f"master:{ring.current}",
            reason=f"{len(rows)} holders re-encrypted",
        )
    return len(rows)


def rotate(
    factory: sessionmaker[Session],
    ring: Keyring,
    *,
    batch_size: int = 500,
    new_master_key: bool = True,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> int:
    """Rotate to a new master key (or finish a rotation) and re-encrypt every holder."""
    if new_master_key:
        ring.add_master_key()
    with transaction(factory) as session:
        total = pending(session, ring.current)
        _rotate_staff(session, ring)
    done = 0
    while True:
        with transaction(factory) as session:
            n = rotate_batch(session, ring, batch_size)
        done += n
        progress(done, total)
        if n == 0:
            return done


def retire_unused(factory: sessionmaker[Session], ring: Keyring) -> list[str]:
    """Drop master keys nothing is wrapped under any more (run after a finished rotation)."""
    with transaction(factory) as session:
        used = set(session.scalars(select(DataKey.master_key_id).distinct()))
        for secret in session.scalars(
            select(StaffAccount.totp_secret).where(StaffAccount.totp_secret.is_not(None))
        ):
            if secret is not None:
                used.add(ring.master_key_id(secret))
    used.add(ring.current)
    retired = [k for k in ring.master_keys if k not in used]
    for k in retired:
        del ring.master_keys[k]
    if retired:
        ring.save()
    return retired

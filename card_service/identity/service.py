"""Holders: create, find, read (decrypting), update, evidence.

Personal fields are one JSON document sealed under the holder's own data key, which is wrapped
under the keyring's current master key. Nothing personal is ever in a clear column or the audit
trail: the audit target is ``holder:<pseudonym>``.
"""

from __future__ import annotations

import base64
import os
import secrets
import time
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from card_service.audit import service as audit
from card_service.audit.schemas import Actor
from card_service.identity import names
from card_service.identity.crypto import Keyring, open_fields, seal_fields
from card_service.identity.errors import (
    HolderAlreadyExists,
    HolderErased,
    HolderNotFound,
    NationalIdInvalid,
)
from card_service.identity.models import DataKey, Evidence, Holder
from card_service.identity.national_id import normalise_organisation_id, normalise_person_id
from card_service.identity.schemas import (
    ContactUpdate,
    EvidenceIn,
    HolderOut,
    OrganisationIn,
    PersonIn,
)
from card_service.staff.roles import utcnow


def new_pseudonym() -> str:
    return "H" + base64.b32encode(secrets.token_bytes(10)).decode()[:15]


def national_id_hash(ring: Keyring, normalised: str) -> bytes:
    return ring.lookup_hash("national_id", normalised)


@dataclass
class SealedHolder:
    """Column values for a new holder and its data key, ready to insert (the bulk path uses it)."""

    pseudonym: str
    pii: bytes
    key_id: bytes
    master_key_id: str
    wrapped: bytes


def seal_new(ring: Keyring, fields: dict[str, Any]) -> SealedHolder:
    pseudonym = new_pseudonym()
    data_key = AESGCM.generate_key(256)
    key_id = os.urandom(8)
    return SealedHolder(
        pseudonym,
        seal_fields(data_key, key_id, pseudonym, fields),
        key_id,
        ring.current,
        ring.seal(data_key, b"dek:" + pseudonym.encode() + key_id),
    )


def _create(
    session: Session, ring: Keyring, actor: Actor, kind: str, nid: str, fields: dict[str, Any]
) -> Holder:
    digest = national_id_hash(ring, nid)
    if session.scalar(select(Holder.id).where(Holder.national_id_hash == digest)) is not None:
        raise HolderAlreadyExists("a holder with this national id exists already")
    sealed = seal_new(ring, fields)
    now = utcnow()
    holder = Holder(
        pseudonym=sealed.pseudonym,
        kind=kind,
        status="active",
        national_id_hash=digest,
        pii=sealed.pii,
        created_at=now,
        updated_at=now,
    )
    try:
        with session.begin_nested():
            session.add(holder)
            session.flush()
    except IntegrityError as exc:
        raise HolderAlreadyExists("a holder with this national id exists already") from exc
    session.add(
        DataKey(
            holder_id=holder.id,
            key_id=sealed.key_id,
            master_key_id=sealed.master_key_id,
            wrapped=sealed.wrapped,
            created_at=now,
        )
    )
    names.index(session, ring, holder.id, fields)
    session.flush()
    audit.record(session, actor, f"holder.create_{kind}", f"holder:{holder.pseudonym}")
    return holder


def create_person(session: Session, ring: Keyring, actor: Actor, data: PersonIn) -> Holder:
    nid = normalise_person_id(data.national_id)
    fields = data.model_dump(mode="json") | {"national_id": nid}
    return _create(session, ring, actor, "person", nid, fields)


def create_organisation(
    session: Session, ring: Keyring, actor: Actor, data: OrganisationIn
) -> Holder:
    nid = normalise_organisation_id(data.national_id)
    fields = data.model_dump(mode="json") | {"national_id": nid}
    return _create(session, ring, actor, "organisation", nid, fields)


def get(session: Session, pseudonym: str, *, lock: bool = False) -> Holder:
    stmt = select(Holder).where(Holder.pseudonym == pseudonym)
    holder = session.scalars(stmt.with_for_update() if lock else stmt).one_or_none()
    if holder is None:
        raise HolderNotFound(f"no holder {pseudonym!r}")
    return holder


def get_live(session: Session, pseudonym: str, *, lock: bool = False) -> Holder:
    holder = get(session, pseudonym, lock=lock)
    if holder.status == "erased":
        raise HolderErased("this holder's personal data was erased")
    return holder


def find_by_national_id(session: Session, ring: Keyring, national_id: str) -> Holder | None:
    """The service-layer lookup (no audit record: the caller records the read it shows)."""
    try:
        nid = normalise_person_id(national_id)
    except NationalIdInvalid as person_error:
        try:
            nid = normalise_organisation_id(national_id)
        except NationalIdInvalid:
            raise person_error from None
    digest = national_id_hash(ring, nid)
    return session.scalars(select(Holder).where(Holder.national_id_hash == digest)).one_or_none()


def _data_key(session: Session, ring: Keyring, holder: Holder) -> tuple[bytes, bytes]:
    key = session.get(DataKey, holder.id)
    if key is None or holder.pii is None:
        raise HolderErased("this holder's personal data was erased")
    aad = b"dek:" + holder.pseudonym.encode() + key.key_id
    return ring.open(key.wrapped, aad), key.key_id


def personal_fields(session: Session, ring: Keyring, holder: Holder) -> dict[str, Any]:
    data_key, key_id = _data_key(session, ring, holder)
    assert holder.pii is not None
    return open_fields(data_key, key_id, holder.pseudonym, holder.pii)


def open_personal(
    ring: Keyring, pseudonym: str, pii: bytes, key_id: bytes, wrapped: bytes
) -> dict[str, Any]:
    """Personal fields from columns a caller read itself (the holder's blob and data key row)."""
    data_key = ring.open(wrapped, b"dek:" + pseudonym.encode() + key_id)
    return open_fields(data_key, key_id, pseudonym, pii)


def view(holder: Holder, personal: dict[str, Any] | None) -> HolderOut:
    return HolderOut(
        holder_id=holder.pseudonym,
        kind=holder.kind,
        status=holder.status,
        created_at=holder.created_at,
        personal=personal,
        purse_account_id=holder.purse_account_id,
    )


def read(
    session: Session, ring: Keyring, actor: Actor, pseudonym: str, reason: str | None = None
) -> HolderOut:
    """A staff read of personal data: always audited."""
    holder = get_live(session, pseudonym)
    out = view(holder, personal_fields(session, ring, holder))
    audit.record(session, actor, "holder.read", f"holder:{pseudonym}", reason=reason)
    return out


def lookup(session: Session, ring: Keyring, actor: Actor, national_id: str) -> HolderOut:
    holder = find_by_national_id(session, ring, national_id)
    if holder is None:
        raise HolderNotFound("no holder has this national id")
    return read(session, ring, actor, holder.pseudonym, reason="lookup by national id")


def update_contact(
    session: Session, ring: Keyring, actor: Actor, pseudonym: str, change: ContactUpdate
) -> HolderOut:
    holder = get_live(session, pseudonym, lock=True)
    data_key, key_id = _data_key(session, ring, holder)
    assert holder.pii is not None
    fields = open_fields(data_key, key_id, holder.pseudonym, holder.pii)
    before = dict(fields)
    patch = change.model_dump(mode="json", exclude_unset=True)
    if holder.kind == "organisation":
        patch = {k: v for k, v in patch.items() if k in ("contact", "address")}
    fields.update(patch)
    if names.holder_name(fields) != names.holder_name(before):
        names.index(session, ring, holder.id, fields)
    holder.pii = seal_fields(data_key, key_id, holder.pseudonym, fields)
    holder.updated_at = utcnow()
    session.flush()
    audit.record(
        session,
        actor,
        "holder.update",
        f"holder:{pseudonym}",
        reason="fields: " + ",".join(sorted(patch)),
    )
    return view(holder, fields)


def add_evidence(
    session: Session, ring: Keyring, actor: Actor, pseudonym: str, data: EvidenceIn
) -> Evidence:
    assert actor.staff_id is not None, "evidence is checked by a member of staff"
    holder = get_live(session, pseudonym)
    number = "".join(data.number.split()).upper()
    row = Evidence(
        holder_id=holder.id,
        doc_type=data.doc_type,
        number_hash=ring.lookup_hash(f"document:{data.doc_type}", number),
        checked_by=actor.staff_id,
        checked_at=utcnow(),
        valid_until=data.valid_until,
    )
    session.add(row)
    session.flush()
    audit.record(session, actor, "holder.evidence_add", f"holder:{pseudonym}", reason=data.doc_type)
    return row


def evidence_of(session: Session, holder: Holder) -> list[tuple[Evidence, str]]:
    from card_service.staff.models import StaffAccount

    rows = session.execute(
        select(Evidence, StaffAccount.username)
        .join(StaffAccount, StaffAccount.id == Evidence.checked_by)
        .where(Evidence.holder_id == holder.id)
        .order_by(Evidence.id)
    ).all()
    return [(e, u) for e, u in rows]


@dataclass
class NameMatch:
    holder: Holder
    personal: dict[str, Any]


def search_by_name(
    session: Session, ring: Keyring, actor: Actor, name: str, limit: int = names.SEARCH_LIMIT
) -> list[NameMatch]:
    """Holders whose name has every word typed (blind index); only the matches are decrypted.

    Audited as ``holder.search``: one record per holder shown (so it appears in that holder's
    history), or one about ``holders`` when nothing matched. The words typed are not recorded.
    """
    found = names.search(session, ring, name, limit)
    matches = [NameMatch(h, personal_fields(session, ring, h)) for h in found]
    if not matches:
        audit.record(session, actor, "holder.search", "holders", reason="by name: no match")
        return matches
    now = time.time_ns()
    audit.record_many(
        session,
        [
            audit.PendingEvent(
                actor, "holder.search", f"holder:{m.holder.pseudonym}", now, reason="by name"
            )
            for m in matches
        ],
    )
    return matches

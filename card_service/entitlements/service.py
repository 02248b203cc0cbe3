"""Grants: create (with checked evidence), approve by a second person, reject, revoke, read.

A grant applies at a moment ``at`` when ``valid_from <= at < valid_to``, it was approved at or
before ``at`` (only grants that need approval), and it was not revoked at or before ``at``. Every
change is audited against ``holder:<pseudonym>``; nothing is deleted.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import DateTime, bindparam, or_, select
from sqlalchemy.orm import Session, aliased

from card_service.audit import service as audit
from card_service.audit.schemas import Actor
from card_service.entitlements.errors import (
    CategoryUnknown,
    GrantAlreadyDecided,
    GrantEvidenceMissing,
    GrantExpired,
    GrantNotFound,
    GrantOverlaps,
    GrantPeriodInvalid,
    GrantSelfApproval,
)
from card_service.entitlements.models import Grant
from card_service.entitlements.schemas import Categories, GrantIn, GrantOut, GrantStatus
from card_service.identity import service as holders
from card_service.identity.models import Evidence, Holder
from card_service.staff.models import StaffAccount
from card_service.staff.roles import aware, utcnow

# A grant may be dated a little before the request that creates it (clocks, form filling), not
# backdated: what was charged in the past stays as it was.
BACKDATE_TOLERANCE = timedelta(minutes=5)


def utc(dt: datetime) -> datetime:
    """Aware UTC: SQLite keeps no offset, so every stored or compared time is UTC."""
    return aware(dt).astimezone(UTC)


def status_of(grant: Grant, now: datetime) -> GrantStatus:
    if grant.revoked_at is not None:
        return "revoked"
    if grant.decision == "rejected":
        return "rejected"
    if aware(grant.valid_to) <= now:
        return "expired"
    if grant.needs_approval and grant.decision is None:
        return "pending"
    if aware(grant.valid_from) > now:
        return "scheduled"
    return "active"


def _staff_id(actor: Actor) -> int:
    assert actor.staff_id is not None, "grants are decided by members of staff"
    return actor.staff_id


def create(
    session: Session,
    actor: Actor,
    pseudonym: str,
    data: GrantIn,
    categories: Categories,
    *,
    now: datetime | None = None,
) -> Grant:
    now = utc(now) if now else utcnow()
    if data.category not in categories.known:
        raise CategoryUnknown(
            f"no proof-based category {data.category!r}; known: {', '.join(sorted(categories.known))}"
        )
    holder = holders.get_live(session, pseudonym, lock=True)
    valid_from = utc(data.valid_from) if data.valid_from else now
    valid_to = utc(data.valid_to)
    if valid_from < now - BACKDATE_TOLERANCE:
        raise GrantPeriodInvalid("a grant cannot start in the past")
    if valid_to <= valid_from or valid_to <= now:
        raise GrantPeriodInvalid("valid_to must be after valid_from and in the future")
    evidence = session.get(Evidence, data.evidence_id)
    if evidence is None or evidence.holder_id != holder.id:
        raise GrantEvidenceMissing("no evidence with this id was checked for this holder")
    if evidence.valid_until is not None:
        until = aware(evidence.valid_until)
        if until <= valid_from:
            raise GrantEvidenceMissing("the evidence has expired: check a current document")
        if valid_to > until:
            raise GrantPeriodInvalid(
                f"the evidence is valid until {until.isoformat()}: the grant cannot outlast it"
            )
    overlapping = session.scalar(
        select(Grant.id).where(
            Grant.holder_id == holder.id,
            Grant.category == data.category,
            Grant.revoked_at.is_(None),
            or_(Grant.decision.is_(None), Grant.decision != "rejected"),
            Grant.valid_from < valid_to,
            Grant.valid_to > valid_from,
        )
    )
    if overlapping is not None:
        raise GrantOverlaps(f"grant {overlapping} of this category already covers part of it")
    grant = Grant(
        holder_id=holder.id,
        category=data.category,
        evidence_id=evidence.id,
        valid_from=valid_from,
        valid_to=valid_to,
        needs_approval=data.category in categories.free,
        granted_by=_staff_id(actor),
        granted_at=now,
    )
    session.add(grant)
    session.flush()
    note = " (free fare: awaits a second person's approval)" if grant.needs_approval else ""
    audit.record(
        session,
        actor,
        "grant.create",
        f"holder:{holder.pseudonym}",
        reason=f"grant {grant.id} {grant.category} until {valid_to.date().isoformat()}{note}",
    )
    return grant


def _get(session: Session, grant_id: int) -> tuple[Grant, str]:
    row = session.execute(
        select(Grant, Holder.pseudonym)
        .join(Holder, Holder.id == Grant.holder_id)
        .where(Grant.id == grant_id)
        .with_for_update(of=Grant)
    ).one_or_none()
    if row is None:
        raise GrantNotFound(f"no grant {grant_id}")
    return row[0], row[1]


def approve(session: Session, actor: Actor, grant_id: int, *, now: datetime | None = None) -> Grant:
    """The second person's approval of a free-fare grant; the granter cannot give it."""
    now = utc(now) if now else utcnow()
    grant, pseudonym = _get(session, grant_id)
    if not grant.needs_approval:
        raise GrantAlreadyDecided("this grant needs no approval: it applies as granted")
    if grant.decision is not None or grant.revoked_at is not None:
        raise GrantAlreadyDecided(f"this grant is {status_of(grant, now)} already")
    if grant.granted_by == _staff_id(actor):
        raise GrantSelfApproval("a second member of staff must approve a grant you made")
    if aware(grant.valid_to) <= now:
        raise GrantExpired("this grant's period has ended; make a new one")
    grant.decision, grant.decided_by, grant.decided_at = "approved", actor.staff_id, now
    session.flush()
    audit.record(session, actor, "grant.approve", f"holder:{pseudonym}", reason=f"grant {grant.id}")
    return grant


def reject(
    session: Session, actor: Actor, grant_id: int, reason: str, *, now: datetime | None = None
) -> Grant:
    now = utc(now) if now else utcnow()
    grant, pseudonym = _get(session, grant_id)
    if not grant.needs_approval:
        raise GrantAlreadyDecided("this grant needs no approval: revoke it instead")
    if grant.decision is not None or grant.revoked_at is not None:
        raise GrantAlreadyDecided(f"this grant is {status_of(grant, now)} already")
    grant.decision, grant.decided_by, grant.decided_at = "rejected", _staff_id(actor), now
    grant.decision_reason = reason
    session.flush()
    audit.record(
        session,
        actor,
        "grant.reject",
        f"holder:{pseudonym}",
        reason=f"grant {grant.id}: {reason}",
    )
    return grant


def revoke(
    session: Session, actor: Actor, grant_id: int, reason: str, *, now: datetime | None = None
) -> Grant:
    """End a grant now (it stays in the history); a pending one is withdrawn."""
    now = utc(now) if now else utcnow()
    grant, pseudonym = _get(session, grant_id)
    if grant.revoked_at is not None or grant.decision == "rejected":
        raise GrantAlreadyDecided(f"this grant is {status_of(grant, now)} already")
    if aware(grant.valid_to) <= now:
        raise GrantExpired("this grant has expired by itself; there is nothing to revoke")
    grant.revoked_by, grant.revoked_at, grant.revoke_reason = _staff_id(actor), now, reason
    session.flush()
    audit.record(
        session,
        actor,
        "grant.revoke",
        f"holder:{pseudonym}",
        reason=f"grant {grant.id}: {reason}",
    )
    return grant


# Built once, in Core (no ORM work per call): every quote and eligibility question asks this.
_G = Grant.__table__.c
_AT = bindparam("at", type_=DateTime(timezone=True))
_APPLYING = select(_G.category).where(
    _G.holder_id == bindparam("holder_id"),
    _G.valid_from <= _AT,
    _G.valid_to > _AT,
    or_(_G.revoked_at.is_(None), _G.revoked_at > _AT),
    or_(_G.needs_approval.is_(False), (_G.decision == "approved") & (_G.decided_at <= _AT)),
)


def categories_at(session: Session, holder_id: int, at: datetime) -> frozenset[str]:
    """The proof-based categories whose grants apply to a holder at ``at``."""
    params = {"holder_id": holder_id, "at": utc(at)}
    return frozenset(session.connection().execute(_APPLYING, params).scalars())


def grants_of(session: Session, pseudonym: str) -> list[GrantOut]:
    holder = holders.get(session, pseudonym)
    return _outs(session, select(Grant).where(Grant.holder_id == holder.id).order_by(Grant.id))


def pending(session: Session, limit: int = 100) -> list[GrantOut]:
    """Free-fare grants awaiting a second person, oldest first (the approvers' queue)."""
    now = utcnow()
    stmt = (
        select(Grant)
        .where(
            Grant.needs_approval.is_(True),
            Grant.decision.is_(None),
            Grant.revoked_at.is_(None),
            Grant.valid_to > now,
        )
        .order_by(Grant.id)
        .limit(max(1, min(limit, 500)))
    )
    return _outs(session, stmt)


def out(session: Session, grant: Grant) -> GrantOut:
    return _outs(session, select(Grant).where(Grant.id == grant.id))[0]


def _outs(session: Session, stmt: object) -> list[GrantOut]:
    granter, decider, revoker = (aliased(StaffAccount) for _ in range(3))
    sub = stmt.subquery()  # type: ignore[attr-defined]
    g = aliased(Grant, sub)
    rows = session.execute(
        select(g, Holder.pseudonym, granter.username, decider.username, revoker.username)
        .join(Holder, Holder.id == g.holder_id)
        .join(granter, granter.id == g.granted_by)
        .outerjoin(decider, decider.id == g.decided_by)
        .outerjoin(revoker, revoker.id == g.revoked_by)
        .order_by(g.id)
    ).all()
    now = utcnow()
    return [
        GrantOut(
            id=r[0].id,
            holder_id=r[1],
            category=r[0].category,
            evidence_id=r[0].evidence_id,
            valid_from=aware(r[0].valid_from),
            valid_to=aware(r[0].valid_to),
            needs_approval=r[0].needs_approval,
            status=status_of(r[0], now),
            granted_by=r[2],
            granted_at=aware(r[0].granted_at),
            decision=r[0].decision,
            decided_by=r[3],
            decided_at=aware(r[0].decided_at) if r[0].decided_at else None,
            decision_reason=r[0].decision_reason,
            revoked_by=r[4],
            revoked_at=aware(r[0].revoked_at) if r[0].revoked_at else None,
            revoke_reason=r[0].revoke_reason,
        )
        for r in rows
    ]

"""Purses with nothing left (at or below zero) put their holder's live card on the validators'
deny list, until a top-up. Taps a validator accepted before it learnt this still settle, down to
the purse's floor (the offline allowance, ADR 0008), which is why the list does not wait for the
floor: a purse between zero and its floor would keep riding into exceptions.

``refresh_purse_denials`` compares each purse's balance with zero and appends an ``add`` or
``remove`` to ``terminals_purse_denials`` when the card's listed state must change. Settlement calls
it for the purses it could not debit and those its debits left at or below zero (found by
one ``purses_empty`` read of the batch's purses); ``sweep_topped_up``, run before a
snapshot is built, lifts the denial of every listed card whose purse is above zero again, so a
top-up reaches validators at their next sync whoever made it.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import BigInteger, String, bindparam, select, text
from sqlalchemy.orm import Session

from card_service.cards.deny_list import commit_key
from card_service.cards.models import Card
from card_service.identity.models import Holder
from card_service.staff.roles import utcnow
from card_service.terminals.models import PurseDenial
from card_service.terminals.sql import array_literal, is_postgres, member_chunks

# A read of the ledger's cached balances (only the ledger writes them).
_AVAILABLE = text(
    "SELECT id, credits_posted - debits_posted - debits_pending "
    "FROM ledger_accounts WHERE id IN :ids"
).bindparams(bindparam("ids", expanding=True))
_AVAILABLE_PG = text(
    "SELECT id, credits_posted - debits_posted - debits_pending "
    "FROM ledger_accounts WHERE id = ANY(CAST(:ids AS bigint[]))"
)


def purses_empty(session: Session, purse_ids: Iterable[int]) -> dict[int, bool]:
    """For each purse: is its balance less holds at or below 0 (nothing left to spend)?"""
    ids = sorted(set(purse_ids))
    out: dict[int, bool] = {}
    if is_postgres(session):
        rows = session.execute(_AVAILABLE_PG, {"ids": array_literal(ids)})
        return {int(i): int(available) <= 0 for i, available in rows}
    for at in range(0, len(ids), 5000):
        rows = session.execute(_AVAILABLE, {"ids": ids[at : at + 5000]})
        out.update({int(i): int(available) <= 0 for i, available in rows})
    return out


def _live_cards(session: Session, purse_ids: Iterable[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for cond in member_chunks(session, Holder.purse_account_id, sorted(purse_ids), BigInteger()):
        rows = session.execute(
            select(Holder.purse_account_id, Card.chip_uid)
            .join(Card, Card.holder_id == Holder.id)
            .where(cond, Card.status == "active", Card.chip_uid.is_not(None))
        )
        for purse, chip in rows:
            out.setdefault(int(purse or 0), []).append(str(chip))
    return out


def listed(session: Session, chips: Iterable[str]) -> dict[str, bool]:
    """Whether each card is on the purse deny list now (its last action is ``add``)."""
    out: dict[str, bool] = {}
    for cond in member_chunks(session, PurseDenial.chip_uid, list(chips), String()):
        rows = session.execute(
            select(PurseDenial.chip_uid, PurseDenial.action)
            .where(cond)
            .order_by(PurseDenial.position)
        )
        out.update({chip: action == "add" for chip, action in rows})
    return out


def refresh_purse_denials(session: Session, purse_ids: Iterable[int]) -> int:
    """Append the changes that make the purse deny list match these purses; how many."""
    ids = set(purse_ids)
    if not ids:
        return 0
    below = purses_empty(session, ids)
    cards = _live_cards(session, ids)
    now = utcnow()
    state = listed(session, [c for chips in cards.values() for c in chips])
    rows = []
    for purse, chips in cards.items():
        for chip in chips:
            want = below.get(purse, False)
            if state.get(chip, False) != want:
                rows.append(
                    PurseDenial(
                        commit_key=commit_key(session),
                        chip_uid=chip,
                        purse_account_id=purse,
                        action="add" if want else "remove",
                        at=now,
                    )
                )
    session.add_all(rows)
    session.flush()
    return len(rows)


_LISTED_PG = text(
    "SELECT chip_uid, purse_account_id FROM (SELECT DISTINCT ON (chip_uid) chip_uid, "
    "purse_account_id, action FROM terminals_purse_denials ORDER BY chip_uid, position DESC) "
    "AS last WHERE action = 'add'"
)
_LISTED = text(
    "SELECT d.chip_uid, d.purse_account_id FROM terminals_purse_denials d JOIN "
    "(SELECT chip_uid, max(position) AS position FROM terminals_purse_denials GROUP BY chip_uid) "
    "AS last ON last.position = d.position WHERE d.action = 'add'"
)


def sweep_topped_up(session: Session) -> int:
    """Take off the purse deny list every card whose purse is above zero again (a top-up
    made anywhere, e.g. by payments, without calling ``refresh_purse_denials``); how many."""
    rows = session.execute(_LISTED_PG if is_postgres(session) else _LISTED).all()
    if not rows:
        return 0
    below = purses_empty(session, {int(p) for _, p in rows})
    now = utcnow()
    lifted = [
        PurseDenial(
            commit_key=commit_key(session),
            chip_uid=str(chip),
            purse_account_id=int(purse),
            action="remove",
            at=now,
        )
        for chip, purse in rows
        if not below.get(int(purse), True)
    ]
    session.add_all(lifted)
    session.flush()
    return len(lifted)

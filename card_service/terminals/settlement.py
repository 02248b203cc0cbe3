"""Settling a terminal's signed batch of taps: a named answer per tap, each tap settled once.

Per tap, in order (docs/reference/terminals.md lists every answer):
1. already answered for this (terminal, seq): the same answer again, ``replayed``;
2. ``void``: a sequence number that ended in no tap, recorded;
3. malformed, another terminal's record, another service: ``rejected``;
4. the card's MAC (key re-derived from the master key): ``rejected`` unless it verifies;
5. the card's counter, claimed once ever: ``rejected`` (``counter_replayed``) when seen before;
6. the card must be known and not on the deny list at the tap's time, its purse must cover the
   charge down to its floor: otherwise an ``exception`` (a real tap, not charged: revenue loss);
7. the ledger transfers (purse -> revenue, concession budget -> revenue, linked): ``settled``.
The terminal's row is locked first, so two uploads of one terminal settle one after the other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import BigInteger, String, select
from sqlalchemy.orm import Session

from card_service.cards.models import Card, DenyListChange
from card_service.identity.models import Holder
from card_service.ledger.clock import now_ns
from card_service.ledger.results import Result
from card_service.protocol.errors import MalformedInput
from card_service.protocol.settlement import TapCheck
from card_service.protocol.terminal_wire import VoidSeq, parse_seq
from card_service.terminals import enrolment
from card_service.terminals.checks import TapKeys, check_mac, claim_counters
from card_service.terminals.counters import DbCounterLedger
from card_service.terminals.denials import purses_empty, refresh_purse_denials
from card_service.terminals.hooks import after_purse_debits
from card_service.terminals.models import SettledTap
from card_service.terminals.postings import Charge, post
from card_service.terminals.sql import array_literal, copy_rows, is_postgres, member_chunks
from card_service.terminals.wire import Tap, parse

SETTLED, EXCEPTION, REJECTED, VOID = "settled", "exception", "rejected", "void"
COLUMNS = (
    "terminal_id", "seq", "outcome", "reason", "card_uid", "card_counter", "tap_time",
    "holder_cents", "concession_cents", "concession_category", "service", "product", "settled_at",
)  # fmt: skip


@dataclass(slots=True)
class Answer:
    index: int  # the item's place in the uploaded list
    seq: int | None
    result: str
    reason: str | None = None
    replayed: bool = False
    warning: str | None = None
    detail: str | None = None
    # The parsed item while it is settled (one object per tap, not two): not part of the answer.
    tap: Tap | VoidSeq | None = field(default=None, repr=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"seq": self.seq, "result": self.result}
        if self.seq is None:
            out["index"] = self.index
        if self.reason:
            out["reason"] = self.reason
        if self.replayed:
            out["replayed"] = True
        if self.warning:
            out["warning"] = self.warning
        if self.detail:
            out["detail"] = self.detail
        return out


_PLAIN = {r: f',"result":"{r}"}}' for r in (SETTLED, EXCEPTION, REJECTED, VOID)}


def answers_json(terminal_id: int, answers: Sequence[Answer]) -> bytes:
    """``{"terminal_id": ..., "answers": [a.to_json() ...]}`` as orjson writes it; the usual
    answer (a sequence number and a result, nothing else) written without a dict per tap."""
    parts = []
    for a in answers:
        plain = _PLAIN.get(a.result)
        if plain and a.seq is not None and not (a.reason or a.replayed or a.warning or a.detail):
            parts.append(f'{{"seq":{a.seq}{plain}')
        else:
            parts.append(orjson.dumps(a.to_json()).decode())
    return f'{{"terminal_id":{terminal_id},"answers":[{",".join(parts)}]}}'.encode()


def _row(terminal_id: int, answer: Answer, tap: Tap | VoidSeq | None, ts: int) -> tuple[Any, ...]:
    """The stored answer, in the order of COLUMNS."""
    if isinstance(tap, Tap):
        return (terminal_id, answer.seq, answer.result, answer.reason, tap.uid, tap.counter,
                tap.time, tap.holder_cents, tap.concession_cents, tap.concession_category,
                tap.service, tap.product, ts)  # fmt: skip
    return (terminal_id, answer.seq, answer.result, answer.reason, None, None, None, 0, 0, None,
            None, None, ts)  # fmt: skip


def _stored(
    session: Session, terminal_id: int, seqs: Sequence[int]
) -> dict[int, tuple[str, str | None]]:
    out = {}
    if seqs and seqs[-1] - seqs[0] < 2 * len(seqs):
        # The usual batch: consecutive numbers. One range of the primary key, filtered here,
        # instead of a lookup per number (``seqs`` is sorted).
        wanted = set(seqs)
        rows = session.execute(
            select(SettledTap.seq, SettledTap.outcome, SettledTap.reason).where(
                SettledTap.terminal_id == terminal_id,
                SettledTap.seq.between(seqs[0], seqs[-1]),
            )
        )
        return {int(s): (o, r) for s, o, r in rows if int(s) in wanted}
    for cond in member_chunks(session, SettledTap.seq, seqs, BigInteger()):
        rows = session.execute(
            select(SettledTap.seq, SettledTap.outcome, SettledTap.reason).where(
                SettledTap.terminal_id == terminal_id, cond
            )
        )
        out.update({int(s): (o, r) for s, o, r in rows})
    return out


_CARDS_PG = (
    "SELECT c.chip_uid, c.id, h.purse_account_id FROM cards c "
    "JOIN identity_holders h ON h.id = c.holder_id WHERE c.chip_uid = ANY(%s::varchar[])"
)


def cards_by_uid(session: Session, uids: set[bytes]) -> dict[bytes, tuple[int, int | None]]:
    """chip UID -> (card id, purse account id)."""
    hexes = [u.hex().upper() for u in uids]
    if is_postgres(session) and hexes:  # one row per card of the batch: the driver's tuples
        raw = session.connection().connection.driver_connection
        assert raw is not None
        rows = raw.execute(_CARDS_PG, (array_literal(hexes),)).fetchall()
        return {bytes.fromhex(c): (i, p) for c, i, p in rows}
    out = {}
    for cond in member_chunks(session, Card.chip_uid, hexes, String()):
        rows = session.execute(
            select(Card.chip_uid, Card.id, Holder.purse_account_id)
            .join(Holder, Holder.id == Card.holder_id)
            .where(cond)
        )
        out.update({bytes.fromhex(c or ""): (int(i), p) for c, i, p in rows})
    return out


def _deny_history(session: Session, card_ids: set[int]) -> dict[int, list[tuple[float, str]]]:
    out: dict[int, list[tuple[float, str]]] = {}
    for cond in member_chunks(session, DenyListChange.card_id, sorted(card_ids), BigInteger()):
        rows = session.execute(
            select(DenyListChange.card_id, DenyListChange.at, DenyListChange.action)
            .where(cond)
            .order_by(DenyListChange.position)
        )
        for card_id, when, action in rows:
            out.setdefault(int(card_id), []).append((_epoch(when), action))
    return out


def _epoch(when: datetime) -> float:
    if when.tzinfo is None:  # SQLite returns naive UTC
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def _denied_at(history: list[tuple[float, str]], t: int) -> bool:
    state = False
    for when, action in history:
        if when <= t:
            state = action == "add"
    return state


def settle_batch(
    session: Session, terminal_id: int, items: Sequence[Any], keys: TapKeys
) -> list[Answer]:
    """Settle one uploaded batch in the caller's transaction; an answer per item, in order."""
    terminal = enrolment.get(session, terminal_id, lock=True)
    pending: list[Answer] = []
    by_seq: dict[int, Answer] = {}
    for index, raw in enumerate(items):
        seq = raw.get("seq") if type(raw) is dict else None
        if type(seq) is not int or not 0 < seq < 2**32:
            seq = parse_seq(raw)
        if seq is not None and seq in by_seq:  # the same seq twice in one batch
            pending.append(by_seq[seq])
            continue
        p = Answer(index, seq, REJECTED)
        try:
            p.tap = parse(raw)
        except MalformedInput as exc:
            p.reason = "malformed_tap"
            p.detail = str(exc)[:120]
        pending.append(p)
        if seq is not None:
            by_seq[seq] = p
    # One read for both: answers stored before (replays) and the predecessors of this batch's
    # sequence numbers (gap warnings).
    wanted = set(by_seq) | {s - 1 for s in by_seq if s > 1}
    stored = _stored(session, terminal.id, sorted(wanted))
    fresh: list[Answer] = []
    for seq, p in by_seq.items():
        if seq in stored:
            p.result, p.reason = stored[seq]
            p.replayed, p.detail = True, None
        elif p.tap is not None or p.reason == "malformed_tap":
            fresh.append(p)
    _decide(session, terminal.id, terminal.service, fresh, keys)
    _gaps(fresh, stored)
    ts = now_ns()
    rows = [_row(terminal.id, p, p.tap, ts) for p in fresh]
    copy_rows(session, SettledTap.__tablename__, COLUMNS, rows)
    answers: list[Answer] = []
    seen: set[int] = set()
    for p in pending:
        if id(p) in seen:
            answers.append(Answer(len(answers), p.seq, p.result, p.reason, True))
        else:
            seen.add(id(p))
            p.index = len(answers)
            answers.append(p)
    return answers


def _decide(
    session: Session, terminal_id: int, service: str, fresh: list[Answer], keys: TapKeys
) -> None:
    macs_ok: list[Answer] = []
    for p in fresh:
        tap = p.tap
        if isinstance(tap, VoidSeq):
            p.result, p.reason = VOID, tap.reason
        elif tap is None:
            continue  # malformed, answered already
        elif tap.terminal_id != terminal_id:
            p.reason = "terminal_mismatch"
        elif tap.service != service:
            p.reason = "service_mismatch"
        else:
            check = check_mac(tap, keys)
            if check is TapCheck.ACCEPTED:
                macs_ok.append(p)
            else:
                p.reason = check.code
    taps = [p.tap for p in macs_ok if isinstance(p.tap, Tap)]
    claimed = claim_counters(DbCounterLedger(session), taps)
    counted = []
    for p, ok in zip(macs_ok, claimed, strict=True):
        if ok:
            counted.append(p)
        else:
            p.reason = TapCheck.COUNTER_REPLAYED.code
    _charge(session, terminal_id, service, counted)


def _charge(session: Session, terminal_id: int, service: str, counted: list[Answer]) -> None:
    cards = cards_by_uid(session, {p.tap.uid for p in counted if isinstance(p.tap, Tap)})
    history = _deny_history(session, {card for card, _ in cards.values()})
    charges: list[Charge] = []
    charged: list[Answer] = []
    for p in counted:
        tap = p.tap
        assert isinstance(tap, Tap)
        p.result = EXCEPTION
        card = cards.get(tap.uid)
        if card is None:
            p.reason = "card_unknown"
        elif card[0] in history and _denied_at(history[card[0]], tap.time):
            p.reason = "card_blocked"
        elif card[1] is None and tap.holder_cents:
            p.reason = "purse_missing"
        else:
            charges.append(Charge(tap, card[1] or 0))
            charged.append(p)
    results = post(session, terminal_id, service, charges)
    debited, refused = set(), set()
    for p, charge, result in zip(charged, charges, results, strict=True):
        if result is Result.OK:
            p.result, p.reason = SETTLED, None
            if charge.tap.holder_cents:
                debited.add(charge.purse_id)
        elif result in (Result.EXCEEDS_CREDITS, Result.EXCEEDS_DEBITS):
            p.reason = "purse_below_floor"
            refused.add(charge.purse_id)  # put (or keep) the card on the deny list
        else:
            p.reason = str(result.value)[:32]
    if debited or refused:
        after_purse_debits(session, sorted(debited | refused))
        # Only purses now empty (at or below zero) can need a deny-list entry: one read of the
        # balances (the ledger holds their rows locked, so it is exact), then the full refresh
        # for those few. A listed card whose purse is above zero again is lifted by
        # denials.sweep_topped_up before the next snapshot.
        below = purses_empty(session, debited - refused)
        refresh_purse_denials(session, refused | {p for p, low in below.items() if low})


def _gaps(fresh: list[Answer], known: dict[int, Any]) -> None:
    """Warn ``sequence_gap`` on a tap whose predecessor was never uploaded (yet); ``known``:
    the answers stored before this batch."""
    seqs = {p.seq for p in fresh if p.seq is not None}
    for p in fresh:
        s = p.seq
        if s is not None and s > 1 and s - 1 not in seqs and s - 1 not in known:
            p.warning = p.warning or "sequence_gap"

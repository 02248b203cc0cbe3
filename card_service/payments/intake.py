"""Webhook intake: concurrent deliveries share transactions, as the ledger wants batches.

Each verified delivery is handed to one intake thread and waits for its own outcome. The thread
takes every delivery waiting at that moment and those that follow closely (``LINGER_S``, up to
``MAX_BATCH``) and, exactly as for one event:

1. stores them all in one transaction (unique on Stripe's id; a redelivery counts), commits;
2. processes the new ones in a second transaction: the successes of top-ups, the bulk of all
   events, together (their top-ups locked in one query, the purses credited from
   ``stripe_clearing`` by one ledger call, so the clearing account's balance is written once per
   batch, not once per event); every other event through its own handler in a savepoint.

Anything unusual in step 2 (a top-up not found by its PaymentIntent, a holder in debt, an auto
top-up, a failure of any kind) sends the batch to ``webhooks.process``, one event at a time, so
the batch path is only ever a faster way to the same result.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Connection, Table, any_, bindparam, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, sessionmaker

from card_service.config import Settings
from card_service.db import transaction
from card_service.identity.models import Holder
from card_service.ledger import service as ledger
from card_service.ledger.schemas import TransferRequest
from card_service.payments import accounts, gateway, webhooks
from card_service.payments.models import StripeEvent, TopUp
from card_service.staff.roles import utcnow

log = logging.getLogger(__name__)
MAX_BATCH = 256
# A batch waits for more deliveries while they keep coming (each within GAP_S of the last), for
# at most LINGER_S: two commits (two fsyncs on SQLite) are most of a batch's cost, so 32 events
# in one batch cost less than half of two batches of 16. A lone delivery waits GAP_S at most.
LINGER_S = 0.005
GAP_S = 0.001
TOPUPS = cast(Table, TopUp.__table__)
EVENTS = cast(Table, StripeEvent.__table__)
HOLDERS = cast(Table, Holder.__table__)
SUCCESS = "payment_intent.succeeded"


def _among(conn: Connection, column: Any, values: list[Any]) -> Any:
    """``column IN (values)``; on PostgreSQL ``column = ANY(array)``: one parameter, so the
    statement's text is the same for every batch size (psycopg converts a long statement's
    placeholders again on every execution)."""
    if conn.dialect.name == "postgresql":
        return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
    return column.in_(values)


@dataclass
class _Delivery:
    event: dict[str, Any]
    payload: str
    done: Future[webhooks.Received]


class _Fallback(Exception):
    """The batch path does not apply: process one by one."""


class Intake:
    def __init__(self, factory: sessionmaker[Session], settings: Settings) -> None:
        self.factory = factory
        self.settings = settings
        self.queue: queue.Queue[_Delivery | None] = queue.Queue()
        self.thread = threading.Thread(target=self._run, name="payments-intake", daemon=True)
        self.thread.start()

    def enqueue(self, event: dict[str, Any], payload: str) -> Future[webhooks.Received]:
        """Hand over a verified event; the future gets its outcome once it is processed."""
        delivery = _Delivery(event, payload, Future())
        self.queue.put(delivery)
        return delivery.done

    def submit(self, event: dict[str, Any], payload: str) -> webhooks.Received:
        return self.enqueue(event, payload).result(timeout=120)

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join(30)

    def _run(self) -> None:
        while True:
            first = self.queue.get()
            if first is None:
                return
            batch = [first]
            deadline = time.monotonic() + LINGER_S
            while len(batch) < MAX_BATCH:
                try:
                    more = self.queue.get_nowait()
                except queue.Empty:
                    wait = min(GAP_S, deadline - time.monotonic())
                    if wait <= 0:
                        break
                    try:
                        more = self.queue.get(timeout=wait)
                    except queue.Empty:
                        break
                if more is None:
                    self.queue.put(None)
                    break
                batch.append(more)
            try:
                self._handle(batch)
            except Exception as exc:  # every waiter gets an answer, never a hang
                log.exception("webhook intake batch failed")
                for d in batch:
                    if not d.done.done():
                        d.done.set_exception(exc)

    def _handle(self, batch: list[_Delivery]) -> None:
        stored = store_many(self.factory, [(d.event, d.payload) for d in batch])
        fresh: dict[str, dict[str, Any]] = {}
        for d in batch:
            s = stored[d.event["id"]]
            if not s.processed and d.event["id"] not in fresh and s.first_in_batch is d.event:
                fresh[d.event["id"]] = d.event
        outcomes: dict[str, str] = {}
        if fresh:
            try:
                outcomes = process_many(self.factory, self.settings, list(fresh.values()))
            except _Fallback:
                pass
            except Exception:
                log.exception("batch processing failed; processing one by one")
        for d in batch:
            event_id = d.event["id"]
            s = stored[event_id]
            try:
                if event_id in outcomes:
                    outcome = outcomes[event_id]
                    dup = s.first_in_batch is not d.event or s.deliveries > 1
                elif s.processed:
                    outcome, dup = s.outcome or "applied", True
                else:
                    outcome = webhooks.process(self.factory, self.settings, event_id, d.event)
                    dup = s.first_in_batch is not d.event or s.deliveries > 1
                d.done.set_result(webhooks.Received(event_id, d.event["type"], outcome, dup))
            except Exception as exc:
                d.done.set_exception(exc)


@dataclass
class _Stored:
    processed: bool
    outcome: str | None
    deliveries: int
    first_in_batch: dict[str, Any]


def store_many(
    factory: sessionmaker[Session], items: list[tuple[dict[str, Any], str]]
) -> dict[str, _Stored]:
    """Store a batch of events in one transaction; each id's state afterwards."""
    first: dict[str, tuple[dict[str, Any], str]] = {}
    again: dict[str, int] = {}  # the same event more than once in this batch
    for event, payload in items:
        if event["id"] in first:
            again[event["id"]] = again.get(event["id"], 0) + 1
        else:
            first[event["id"]] = (event, payload)
    with transaction(factory) as s:
        conn = s.connection()
        stored = webhooks.store_all(conn, list(first.values()))
        result = {
            i: _Stored(o.processed, o.outcome, o.deliveries + again.get(i, 0), first[i][0])
            for i, o in stored.items()
        }
        if again:
            conn.execute(
                update(StripeEvent)
                .where(StripeEvent.id == bindparam("eid"))
                .values(deliveries=StripeEvent.deliveries + bindparam("n")),
                [{"eid": i, "n": n} for i, n in again.items()],
            )
    return result


def process_many(
    factory: sessionmaker[Session], settings: Settings, events: list[dict[str, Any]]
) -> dict[str, str]:
    """Process new events of one batch in one transaction; their outcomes by id."""
    with transaction(factory) as s:
        conn = s.connection()
        ids = [e["id"] for e in events]
        unprocessed = set(
            conn.execute(
                select(StripeEvent.id)
                .where(_among(conn, EVENTS.c.id, ids), StripeEvent.processed_at.is_(None))
                .with_for_update()
            ).scalars()
        )
        todo = [e for e in events if e["id"] in unprocessed]
        outcomes: dict[str, tuple[str, str | None]] = {}
        successes = [e for e in todo if e["type"] == SUCCESS]
        outcomes.update(_credit_many(s, settings, successes))
        for e in todo:
            if e["id"] in outcomes:
                continue
            with s.begin_nested():
                outcomes[e["id"]] = webhooks.dispatch(s, settings, e)
        if outcomes:
            now = utcnow()
            conn.execute(
                update(StripeEvent)
                .where(StripeEvent.id == bindparam("eid"))
                .values(processed_at=now, outcome=bindparam("o"), detail=bindparam("d")),
                [{"eid": i, "o": o, "d": d[:256] if d else None} for i, (o, d) in outcomes.items()],
            )
    return {i: o for i, (o, _d) in outcomes.items()}


def _credit_many(
    session: Session, settings: Settings, events: list[dict[str, Any]]
) -> dict[str, tuple[str, str | None]]:
    """Credit the purses of many paid online top-ups with one ledger call (Core statements:
    this is the path nearly every event takes)."""
    if not events:
        return {}
    intents = {e["data"]["object"].get("id"): e for e in events}
    if len(intents) != len(events):
        raise _Fallback("one PaymentIntent twice in a batch")
    conn = session.connection()
    topups = conn.execute(
        select(TOPUPS.c.id, TOPUPS.c.holder_id, TOPUPS.c.stripe_payment_intent_id)
        .where(
            _among(conn, TOPUPS.c.stripe_payment_intent_id, list(intents)),
            TOPUPS.c.status != "succeeded",
            TOPUPS.c.kind == "online",
        )
        .with_for_update()
    ).all()
    if len(topups) != len(events):
        raise _Fallback("not every event is a plain, new top-up of ours")
    holders = {
        h.id: h
        for h in conn.execute(
            select(HOLDERS.c.id, HOLDERS.c.pseudonym, HOLDERS.c.purse_account_id).where(
                _among(conn, HOLDERS.c.id, [t.holder_id for t in topups])
            )
        )
    }
    debt_codes = [accounts.purse_debt(h.pseudonym) for h in holders.values()]
    if ledger.find_account_ids(session, debt_codes) or any(
        h.purse_account_id is None for h in holders.values()
    ):
        raise _Fallback("a holder in debt, or without a purse")
    clearing = accounts.clearing(session)
    requests, rows = [], []
    now = utcnow()
    for topup in topups:
        event = intents[topup.stripe_payment_intent_id]
        intent = event["data"]["object"]
        if str(intent.get("currency", "")).lower() != settings.payments_currency:
            raise _Fallback("a foreign currency")
        amount = int(intent.get("amount_received") or intent.get("amount") or 0)
        charge = gateway.charge_of(intent)
        requests.append(
            TransferRequest(
                accounts.transfer_id("topup", topup.stripe_payment_intent_id),
                clearing,
                holders[topup.holder_id].purse_account_id,
                amount,
                accounts.TOPUP_ONLINE,
                charge or topup.stripe_payment_intent_id,
            )
        )
        rows.append({"tid": topup.id, "amount": amount, "charge": charge, "now": now})
    results = ledger.create_transfers(session, requests)
    if not all(r.ok for r in results):
        raise _Fallback("the ledger refused a credit")
    conn.execute(
        update(TOPUPS)
        .where(TOPUPS.c.id == bindparam("tid"))
        .values(
            status="succeeded",
            credited_cents=bindparam("amount"),
            stripe_charge_id=bindparam("charge"),
            failure_code=None,
            failure_message=None,
            updated_at=bindparam("now"),
        ),
        rows,
    )
    return {
        intents[t.stripe_payment_intent_id]["id"]: ("applied", f"credited {r['amount']} cents")
        for t, r in zip(topups, rows, strict=True)
    }

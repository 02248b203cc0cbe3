"""Stripe webhooks: verify the signature, store the event, then process it, once.

1. The ``stripe`` library checks the ``Stripe-Signature`` header (HMAC-SHA256 with the endpoint
   secret, timestamp within the tolerance). A webhook with no signature, a wrong one, or a body
   that is not an event is refused with a named error and a row in the rejections table.
2. The event is stored in its own transaction, unique on Stripe's id, before anything else.
3. Processing runs in a second transaction that locks the stored event and does nothing if it is
   processed already; every ledger write has an id derived from the Stripe object, so even a
   second processing would be a replay. A concurrent duplicate waits for the lock, then sees the
   event processed.

A crash between 2 and 3 leaves a stored, unprocessed event: Stripe's redelivery processes it
(we answered no 2xx), and so does the worker (``process_stored``). An event we never received
(our endpoint was down) is fetched from Stripe's events API by ``fetch_missed``.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any, cast

import orjson
import stripe
from sqlalchemy import Connection, Table, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from card_service.config import Settings
from card_service.db import transaction
from card_service.ledger.store import ConcurrentWrite
from card_service.payments import disputes, gateway, refunds, topups
from card_service.payments.errors import (
    PaymentsNotConfigured,
    WebhookMalformed,
    WebhookProcessingFailed,
    WebhookSignatureInvalid,
    WebhookUnsigned,
)
from card_service.payments.models import StripeEvent, WebhookRejection
from card_service.staff.roles import utcnow

log = logging.getLogger(__name__)
Handler = Callable[[Session, Settings, dict[str, Any]], topups.Outcome]


def _intent_succeeded(
    session: Session, settings: Settings, intent: dict[str, Any]
) -> topups.Outcome:
    """A bill's PaymentIntent (metadata kind=bill, made by bills/card.py) settles its bill, so a
    bill paid at a kiosk whose page never came back is settled all the same; any other is ours
    to credit as a top-up."""
    if (intent.get("metadata") or {}).get("kind") == "bill":
        from card_service.bills import card as bill_payments

        return bill_payments.on_succeeded(session, settings, intent)
    return topups.on_succeeded(session, settings, intent)


HANDLERS: dict[str, Handler] = {
    "payment_intent.succeeded": _intent_succeeded,
    "payment_intent.payment_failed": topups.on_failed,
    "payment_intent.canceled": topups.on_canceled,
    "charge.refunded": refunds.on_charge_refunded,
    "refund.created": refunds.on_refund,
    "refund.updated": refunds.on_refund,
    "refund.failed": refunds.on_refund,
    "charge.refund.updated": refunds.on_refund,
    "charge.dispute.created": disputes.on_created,
    "charge.dispute.closed": disputes.on_closed,
}
RETRIES = 5
EVENTS = cast(Table, StripeEvent.__table__)


@dataclass(frozen=True)
class Received:
    event_id: str
    type: str
    outcome: str | None
    duplicate: bool


def verify(settings: Settings, body: bytes, signature: str | None) -> dict[str, Any]:
    """The event in a signed body, or a named error."""
    secret = settings.stripe_webhook_secret
    if not secret:
        raise PaymentsNotConfigured("no webhook secret is configured (stripe_webhook_secret)")
    if not signature:
        raise WebhookUnsigned("no Stripe-Signature header")
    try:
        stripe.WebhookSignature.verify_header(
            body, signature, secret, settings.stripe_webhook_tolerance_s
        )
    except (stripe.SignatureVerificationError, UnicodeDecodeError) as exc:
        raise WebhookSignatureInvalid(f"the signature does not verify: {exc}") from exc
    try:
        event = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise WebhookMalformed("the body is not JSON") from exc
    if (
        not isinstance(event, dict)
        or not isinstance(event.get("id"), str)
        or not isinstance(event.get("type"), str)
        or not isinstance((event.get("data") or {}).get("object"), dict)
        or not 0 < len(event["id"]) <= 64
        or len(event["type"]) > 64
    ):
        raise WebhookMalformed("the body is not a Stripe event (id, type, data.object)")
    return event


def reject(
    factory: sessionmaker[Session], code: str, detail: str, body: bytes, signature: str | None
) -> None:
    with transaction(factory) as s:
        s.add(
            WebhookRejection(
                received_at=utcnow(),
                code=code,
                detail=detail[:256],
                body_sha256=hashlib.sha256(body).hexdigest(),
                body_size=len(body),
                signature=signature[:256] if signature else None,
            )
        )


@dataclass(frozen=True)
class Stored:
    id: str
    type: str
    processed: bool
    outcome: str | None
    deliveries: int


def _insert(conn: Connection) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING for the connection's database."""
    if conn.dialect.name == "postgresql":
        return (
            pg_insert(EVENTS).on_conflict_do_nothing(index_elements=["id"]).returning(EVENTS.c.id)
        )
    return (
        sqlite_insert(EVENTS).on_conflict_do_nothing(index_elements=["id"]).returning(EVENTS.c.id)
    )


def _row(event: dict[str, Any], payload: str) -> dict[str, Any]:
    return {
        "id": event["id"],
        "type": event["type"],
        "object_id": gateway.object_id(event["data"]["object"]),
        "created": int(event.get("created") or 0),
        "payload": payload,
        "received_at": utcnow(),
        "deliveries": 1,
    }


def store_all(conn: Connection, items: list[tuple[dict[str, Any], str]]) -> dict[str, Stored]:
    """Keep these events (distinct ids), unique on their ids, in ``conn``'s transaction: one
    INSERT for all; the ones stored before count one more delivery. Each one's state."""
    new = set(conn.execute(_insert(conn), [_row(e, p) for e, p in items]).scalars())
    result = {
        e["id"]: Stored(e["id"], e["type"], False, None, 1) for e, _p in items if e["id"] in new
    }
    for event, _payload in items:
        if event["id"] in new:
            continue
        row = conn.execute(
            update(StripeEvent)
            .where(StripeEvent.id == event["id"])
            .values(deliveries=StripeEvent.deliveries + 1)
            .returning(StripeEvent.type, StripeEvent.processed_at, StripeEvent.outcome,
                       StripeEvent.deliveries)
        ).one()  # fmt: skip
        result[event["id"]] = Stored(event["id"], row[0], row[1] is not None, row[2], row[3])
    return result


def store_in(conn: Connection, event: dict[str, Any], payload: str) -> Stored:
    """Keep one event (see ``store_all``)."""
    return store_all(conn, [(event, payload)])[event["id"]]


def store(factory: sessionmaker[Session], event: dict[str, Any], payload: str) -> Stored:
    """Keep the event in a transaction of its own."""
    with transaction(factory) as s:
        return store_in(s.connection(), event, payload)


def dispatch(session: Session, settings: Settings, event: dict[str, Any]) -> topups.Outcome:
    handler = HANDLERS.get(event["type"])
    if handler is None:
        return "ignored", "event type not handled"
    return handler(session, settings, event["data"]["object"])


def process(
    factory: sessionmaker[Session],
    settings: Settings,
    event_id: str,
    event: dict[str, Any] | None = None,
) -> str:
    """Apply a stored event once; returns its outcome (applied | ignored)."""
    for attempt in range(RETRIES):
        try:
            with transaction(factory) as s:
                row = (
                    s.connection()
                    .execute(
                        select(StripeEvent.processed_at, StripeEvent.outcome)
                        .where(StripeEvent.id == event_id)
                        .with_for_update()
                    )
                    .one_or_none()
                )
                if row is None:
                    raise LookupError(f"event {event_id} is not stored")
                if row.processed_at is not None:
                    return row.outcome or "applied"
                if event is None:
                    payload = s.scalar(
                        select(StripeEvent.payload).where(StripeEvent.id == event_id)
                    )
                    event = json.loads(payload or "{}")
                outcome, detail = dispatch(s, settings, event)
                s.connection().execute(
                    update(StripeEvent)
                    .where(StripeEvent.id == event_id)
                    .values(processed_at=utcnow(), outcome=outcome,
                            detail=detail[:256] if detail else None)
                )  # fmt: skip
                return outcome
        except ConcurrentWrite:
            log.info("event %s: concurrent write, retry %d", event_id, attempt + 1)
        except Exception as exc:
            _remember_error(factory, event_id, exc)
            raise WebhookProcessingFailed(f"event {event_id} is stored; processing failed") from exc
    raise WebhookProcessingFailed(f"event {event_id} is stored; still contended, retry later")


def _remember_error(factory: sessionmaker[Session], event_id: str, exc: Exception) -> None:
    log.exception("processing Stripe event %s failed", event_id)
    try:
        with transaction(factory) as s:
            s.execute(
                update(StripeEvent)
                .where(StripeEvent.id == event_id, StripeEvent.processed_at.is_(None))
                .values(detail=f"failed: {type(exc).__name__}: {exc}"[:256])
            )
    except Exception:
        log.exception("could not note the failure on event %s", event_id)


def receive(
    factory: sessionmaker[Session],
    settings: Settings,
    body: bytes,
    signature: str | None,
    submit: Callable[[dict[str, Any], str], Received] | None = None,
) -> Received:
    """A webhook delivery, from the raw body to the event processed (by ``submit``, the web
    service's intake that shares transactions between concurrent deliveries, if given)."""
    try:
        event = verify(settings, body, signature)
    except (WebhookUnsigned, WebhookSignatureInvalid, WebhookMalformed) as exc:
        reject(factory, exc.code, exc.detail, body, signature)
        raise
    if submit is not None:
        return submit(event, body.decode())
    row = store(factory, event, body.decode())
    if row.processed:
        return Received(row.id, row.type, row.outcome, True)
    outcome = process(factory, settings, row.id, event)
    return Received(row.id, row.type, outcome, row.deliveries > 1)


def process_stored(
    factory: sessionmaker[Session], settings: Settings, older_than_s: float = 30, limit: int = 500
) -> int:
    """Process events stored but left unprocessed (a crash, a failure); how many were applied."""
    before = utcnow() - timedelta(seconds=older_than_s)
    with factory() as s:
        ids = list(
            s.scalars(
                select(StripeEvent.id)
                .where(StripeEvent.processed_at.is_(None), StripeEvent.received_at < before)
                .order_by(StripeEvent.created)
                .limit(limit)
            )
        )
    done = 0
    for event_id in ids:
        try:
            process(factory, settings, event_id)
            done += 1
        except WebhookProcessingFailed:
            continue
    return done


def fetch_missed(factory: sessionmaker[Session], settings: Settings, since: int) -> int:
    """Store and process the events Stripe has since ``since`` (Unix s) that never reached us."""
    client = gateway.client(settings)
    params: Any = {"limit": 100, "created": {"gte": since}}
    page = gateway.call(lambda: client.v1.events.list(params=params))
    found: list[dict[str, Any]] = []
    while True:
        found.extend(gateway.plain(e) for e in page.data)
        if not page.has_more or not page.data:
            break
        following: Any = {**params, "starting_after": page.data[-1].id}
        page = gateway.call(partial(client.v1.events.list, params=following))
    with factory() as s:
        ids = [e["id"] for e in found]
        known = (
            set(s.scalars(select(StripeEvent.id).where(StripeEvent.id.in_(ids)))) if ids else set()
        )
    done = 0
    for event in sorted(found, key=lambda e: int(e.get("created") or 0)):
        if event["id"] in known:
            continue
        row = store(factory, event, json.dumps(event, sort_keys=True))
        if not row.processed:
            process(factory, settings, row.id, event)
            done += 1
    return done

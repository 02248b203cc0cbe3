"""The answers to the hot questions (entitlement, quote), shared by both ways of serving them.

The FastAPI endpoints (endpoints.py, the documented reference) call these with an ORM Session;
the fast path (fast_endpoints.py) with ``ConnectionReads`` over prepared.PreparedReads, because
everything these answers read goes through ``session.connection().execute(stmt, params)``
(questions.py, ``entitlements.service.categories_at``, ``charging.service.recent_uses``):
prebuilt Core statements, no ORM objects. A test asks both paths every question of every policy
(tests/services_api/test_fast_path.py), so a read that starts needing a real Session shows there.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import cast
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from card_service.charging import service as charging
from card_service.identity.crypto import Keyring
from card_service.protocol.fees import FareRules
from card_service.services_api import questions
from card_service.services_api.credentials import ClientView
from card_service.services_api.errors import CategoryForbidden
from card_service.services_api.guard import Asked
from card_service.services_api.prepared import PreparedReads
from card_service.services_api.schemas import EntitlementAnswer, QuoteAnswer, QuoteIn
from card_service.staff.roles import utcnow

Rules = Callable[[datetime], FareRules]


class ConnectionReads:
    """What the read-only questions use of a Session: ``connection().execute``, nothing else."""

    __slots__ = ("_conn",)

    def __init__(self, conn: PreparedReads) -> None:
        self._conn = conn

    def connection(self) -> PreparedReads:
        return self._conn

    def as_session(self) -> Session:
        return cast(Session, self)  # duck-typed: only .connection() is ever called


def entitlement(
    session: Session,
    ring: Keyring,
    client: ClientView,
    rules: Rules,
    number: str,
    category: str,
    tz: ZoneInfo,
    asked: Asked,
) -> EntitlementAnswer:
    """Is the card's holder in this category now: yes or no (never why, never a birth date)."""
    asked.note = f"category {category}"
    if not client.policy.may_ask_category(category):
        raise CategoryForbidden(f"this client's policy does not cover category {category!r}")
    now = utcnow()
    yes = questions.entitled(session, ring, rules(now), number, category, now, tz)
    return EntitlementAnswer(card=number, category=category, entitled=yes)


def quote(
    session: Session,
    ring: Keyring,
    client: ClientView,
    rules: Rules,
    body: QuoteIn,
    tz: ZoneInfo,
    asked: Asked,
) -> QuoteAnswer:
    """What this card would pay now for one of the client's own service's products."""
    asked.note = f"{client.service}.{body.product}"
    now = utcnow()
    in_force = rules(now)
    charging.lookup(in_force, client.service, body.product)  # own products only
    found = questions.require_valid(session, body.card, now, tz)
    req = charging.Request(
        client.client_id, "", client.service, body.card, body.product, body.quantity, now
    )
    q = charging.price(session, in_force, found.holder_id, lambda: found.birth_date(ring), req)
    return QuoteAnswer(
        card=body.card, product=body.product, quantity=body.quantity, price_cents=q.holder_cents
    )

"""The service API (``/v1/services/...``): what a registered city service may ask, by its policy.

Also mounts this domain's other routers: grants for the desk, client administration for admins,
and the finance report.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from zoneinfo import ZoneInfo

from fastapi import APIRouter, FastAPI, Request, Response
from sqlalchemy.exc import IntegrityError

from card_service.audit import service as audit
from card_service.catalogue.service import in_force
from card_service.charging import service as charging
from card_service.charging.endpoints import router as finance_router
from card_service.charging.errors import ChargeNotFound, InsufficientFunds
from card_service.charging.models import Charge
from card_service.db import transaction
from card_service.entitlements.endpoints import router as grants_router
from card_service.ledger.store import ConcurrentWrite
from card_service.services_api import answers, questions
from card_service.services_api.admin_endpoints import router as admin_router
from card_service.services_api.guard import Caller, Service
from card_service.services_api.rules_cache import rules_now
from card_service.services_api.runtime import close
from card_service.services_api.schemas import (
    CardAnswer,
    ChargeAnswer,
    ChargeIn,
    EntitlementAnswer,
    QuoteAnswer,
    QuoteIn,
    UsageItem,
)
from card_service.staff.roles import aware, utcnow


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    close(app)  # write the audit records still queued


router = APIRouter(lifespan=_lifespan)
router.include_router(grants_router)
router.include_router(admin_router)
router.include_router(finance_router)
api = APIRouter(prefix="/v1/services", tags=["service API"])


def _tz(caller: Caller) -> ZoneInfo:
    return ZoneInfo(caller.runtime.settings.services_timezone)


@api.get("/cards/{number}", response_model_exclude_none=True)
def card_status(number: str, caller: Service) -> CardAnswer:
    """Is this card valid and active? Personal fields only as the client's policy names them."""
    ring = caller.ring()
    with caller.question("card_status", f"card:{number}") as asked, caller.reads() as session:
        fields = caller.client.policy.fields
        answer = questions.card_status(session, ring, number, fields, utcnow(), _tz(caller))
        shown = [f for f in fields if getattr(answer, f) is not None]
        asked.note = "fields: " + ",".join(shown) if shown else None
    return answer


@api.get("/cards/{number}/entitlements/{category}")
def entitlement(number: str, category: str, caller: Service) -> EntitlementAnswer:
    """Is the card's holder in this category now: yes or no (never why, never a birth date)."""
    ring = caller.ring()
    with caller.question("entitlement", f"card:{number}") as asked, caller.reads() as session:
        return answers.entitlement(
            session,
            ring,
            caller.client,
            lambda now: rules_now(session, now),
            number,
            category,
            _tz(caller),
            asked,
        )


@api.post("/quotes")
def quote(body: QuoteIn, caller: Service) -> QuoteAnswer:
    """What this card would pay now for one of the client's own service's products."""
    ring = caller.ring()
    question = caller.question("quote", f"card:{body.card}", body.purpose)
    with question as asked, caller.reads() as session:
        rules = lambda now: rules_now(session, now)  # noqa: E731
        return answers.quote(session, ring, caller.client, rules, body, _tz(caller), asked)


def _request(caller: Caller, ref: str, card: str, product: str, quantity: int) -> charging.Request:
    return charging.Request(
        caller.client.client_id, ref, caller.client.service, card, product, quantity, utcnow()
    )


def _answer(c: Charge) -> ChargeAnswer:
    return ChargeAnswer(
        id=c.ref,
        card=c.card_number,
        product=c.product,
        quantity=c.quantity,
        price_cents=c.holder_cents,
        at=aware(c.at),
        status=c.status,
        refusal=c.refusal,
    )


def _charge_once(
    request: Request, caller: Caller, req: charging.Request, purpose: str
) -> charging.Outcome:
    with transaction(request.app.state.sessionmaker) as session:
        rules = in_force(session, req.at)
        charging.lookup(rules, caller.client.service, req.product)  # own products only
        outcome = charging.charge(session, caller.ring(), rules, req, _tz(caller))
        c = outcome.charge
        audit.record(
            session,
            caller.actor,
            "services.charge",
            f"card:{req.card_number}",
            reason=f"purpose: {purpose}; charge {c.ref}: {c.service}.{c.product} "
            f"{c.holder_cents} of {c.price_cents} cents, {c.status}"
            + (" (again)" if outcome.replayed else ""),
        )
    return outcome


@api.post("/charges", status_code=201)
def charge(body: ChargeIn, caller: Service, request: Request, response: Response) -> ChargeAnswer:
    """Charge the card for one of the client's products; the same id again is the same charge."""
    with caller.question("charge", f"card:{body.card}", body.purpose) as asked:
        asked.recorded = True  # in the charge's own transaction
        req = _request(caller, body.id, body.card, body.product, body.quantity)
        for attempt in range(3):
            try:
                outcome = _charge_once(request, caller, req, asked.purpose)
                break
            except (ConcurrentWrite, IntegrityError):
                # A concurrent attempt with the same id won: the next round finds its answer.
                if attempt == 2:
                    raise
        c = outcome.charge
        if not outcome.ok:
            raise InsufficientFunds(
                f"charge {c.ref} refused: the purse holds less than {c.holder_cents} cents"
            )
    if outcome.replayed:
        response.status_code = 200
    return _answer(c)


@api.get("/charges/{charge_id}")
def get_charge(charge_id: str, caller: Service) -> ChargeAnswer:
    """One of this client's own charges, by the id it gave."""
    with caller.question("charge", f"charge:{charge_id}") as asked, caller.reads() as session:
        asked.note = "read back"
        found = session.get(Charge, charging.charge_id(caller.client.client_id, charge_id))
        if found is None:
            raise ChargeNotFound(f"this client made no charge {charge_id!r}")
    return _answer(found)


@api.get("/cards/{number}/usage")
def usage(number: str, caller: Service, days: int = 31, limit: int = 100) -> list[UsageItem]:
    """This service's own charges to the card's holder (never another service's)."""
    with caller.question("usage", f"card:{number}") as asked, caller.reads() as session:
        since = utcnow() - timedelta(days=max(1, min(days, 366)))
        service = caller.client.service
        items = questions.usage(session, service, number, since, max(1, min(limit, 500)))
        asked.note = f"{len(items)} charges"
    return items


router.include_router(api)

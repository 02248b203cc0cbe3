"""Stripe's webhook endpoint. Public: the signature is the authentication."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Request
from starlette.concurrency import run_in_threadpool

from card_service.payments import webhooks
from card_service.payments.router import router
from card_service.payments.schemas import WebhookAck


@router.post("/v1/payments/stripe/webhook")
async def stripe_webhook(
    request: Request, stripe_signature: Annotated[str | None, Header()] = None
) -> WebhookAck:
    """Stripe events: verified, stored, then processed once (2xx only when processed)."""
    body = await request.body()
    intake = getattr(request.app.state, "payments_intake", None)
    got = await run_in_threadpool(
        webhooks.receive,
        request.app.state.sessionmaker,
        request.app.state.settings,
        body,
        stripe_signature,
        intake.submit if intake is not None else None,
    )
    return WebhookAck(
        received=got.event_id, type=got.type, outcome=got.outcome, duplicate=got.duplicate
    )

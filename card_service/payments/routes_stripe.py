"""Stripe's webhook endpoint. Public: the signature is the authentication.

The signature check runs on the event loop (one HMAC); storing and processing belong to the
web service's intake thread, whose answer the request awaits without holding a worker thread.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import Header, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from card_service.payments import webhooks
from card_service.payments.errors import WebhookMalformed, WebhookSignatureInvalid, WebhookUnsigned
from card_service.payments.router import router
from card_service.payments.schemas import WebhookAck

ANSWER_WITHIN_S = 120


@router.post("/v1/payments/stripe/webhook", response_model=WebhookAck)
async def stripe_webhook(
    request: Request, stripe_signature: Annotated[str | None, Header()] = None
) -> JSONResponse:
    """Stripe events: verified, stored, then processed once (2xx only when processed)."""
    body = await request.body()
    factory, settings = request.app.state.sessionmaker, request.app.state.settings
    intake = getattr(request.app.state, "payments_intake", None)
    if intake is None:
        got = await run_in_threadpool(webhooks.receive, factory, settings, body, stripe_signature)
    else:
        try:
            event = webhooks.verify(settings, body, stripe_signature)
        except (WebhookUnsigned, WebhookSignatureInvalid, WebhookMalformed) as exc:
            await run_in_threadpool(
                webhooks.reject, factory, exc.code, exc.detail, body, stripe_signature
            )
            raise
        done = intake.enqueue(event, body.decode())
        got = await asyncio.wait_for(asyncio.wrap_future(done), ANSWER_WITHIN_S)
    return JSONResponse(
        {
            "received": got.event_id,
            "type": got.type,
            "outcome": got.outcome,
            "duplicate": got.duplicate,
        }
    )

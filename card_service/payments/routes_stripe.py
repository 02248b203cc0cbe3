"""Stripe's webhook endpoint. Public: the signature is the authentication.

The signature check runs on the event loop (one HMAC); storing and processing belong to the
web service's intake thread, whose answer the request awaits without holding a worker thread.

Two routes serve it with the same ``receive_webhook``: the FastAPI route below is the
documented reference (the OpenAPI page shows it), and ``fast_webhook.py`` serves the same path
on the plain ASGI fast path (card_service/api/fast.py) in front of FastAPI's routing, which is
what clients reach.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import Header, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from card_service.payments import webhooks
from card_service.payments.errors import WebhookMalformed, WebhookSignatureInvalid, WebhookUnsigned
from card_service.payments.router import router
from card_service.payments.schemas import WebhookAck

ANSWER_WITHIN_S = 120
PATH = "/v1/payments/stripe/webhook"


async def receive_webhook(state: Any, body: bytes, signature: str | None) -> dict[str, Any]:
    """Verify, store, process one delivery (``state``: the app's state); the answer's body.
    Named errors (a bad signature, processing failed) propagate to the caller's handler."""
    factory, settings = state.sessionmaker, state.settings
    intake = getattr(state, "payments_intake", None)
    if intake is None:
        got = await run_in_threadpool(webhooks.receive, factory, settings, body, signature)
    else:
        try:
            event = webhooks.verify(settings, body, signature)
        except (WebhookUnsigned, WebhookSignatureInvalid, WebhookMalformed) as exc:
            await run_in_threadpool(webhooks.reject, factory, exc.code, exc.detail, body, signature)
            raise
        done = intake.enqueue(event, body.decode())
        got = await asyncio.wait_for(asyncio.wrap_future(done), ANSWER_WITHIN_S)
    return {
        "received": got.event_id,
        "type": got.type,
        "outcome": got.outcome,
        "duplicate": got.duplicate,
    }


@router.post(PATH, response_model=WebhookAck)
async def stripe_webhook(
    request: Request, stripe_signature: Annotated[str | None, Header()] = None
) -> JSONResponse:
    """Stripe events: verified, stored, then processed once (2xx only when processed)."""
    body = await request.body()
    return JSONResponse(await receive_webhook(request.app.state, body, stripe_signature))

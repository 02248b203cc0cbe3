"""Stripe's webhook on the plain ASGI fast path (card_service/api/fast.py).

The same ``receive_webhook`` as the FastAPI route (routes_stripe.py): the signature checked by the
``stripe`` library, the event stored before it is processed, named errors as problem JSON. Only
the way in differs: no route matching over every route of the service, no dependency solving,
no response model validation (the answer is built by ``receive_webhook`` itself).
"""

from __future__ import annotations

from card_service.api.fast import FastRequest, FastResponse, FastTable
from card_service.payments.routes_stripe import PATH, receive_webhook

table = FastTable()


@table.route("POST", PATH)
async def stripe_webhook(request: FastRequest) -> FastResponse:
    signature = request.headers.get("stripe-signature")
    return FastResponse.json(await receive_webhook(request.state, request.body, signature))

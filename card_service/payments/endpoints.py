"""HTTP endpoints of payments: self-service, desk, kiosks, finance and Stripe's webhook.

The routes modules declare their routes on ``router`` (card_service/payments/router.py).
"""

from card_service.payments import routes_me, routes_staff, routes_stripe
from card_service.payments.router import router

__all__ = ["router", "routes_me", "routes_staff", "routes_stripe"]

"""The one place that talks to Stripe: a ``stripe.StripeClient`` built from settings.

Card numbers never reach us: browsers pay on Stripe's own element with the PaymentIntent's client
secret. Every call that creates something carries an idempotency key derived from our own row id,
so a retry (the library's own, on a dropped connection, or ours later) cannot charge twice.
Errors become named ones: no answer is ``StripeUnavailable``, a refusal ``StripeRefused``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import lru_cache, partial
from typing import Any, TypeVar

import stripe

from card_service.config import Settings
from card_service.payments.errors import PaymentsNotConfigured, StripeRefused, StripeUnavailable

T = TypeVar("T")


def configured(settings: Settings) -> bool:
    return bool(settings.stripe_api_key)


@lru_cache(maxsize=8)
def _client(key: str, base: str | None, timeout_s: float, retries: int) -> stripe.StripeClient:
    addresses: Any = {"api": base.rstrip("/")} if base else {}
    return stripe.StripeClient(
        key,
        base_addresses=addresses,
        max_network_retries=retries,
        http_client=stripe.RequestsClient(timeout=timeout_s),
    )


def client(settings: Settings) -> stripe.StripeClient:
    if not settings.stripe_api_key:
        raise PaymentsNotConfigured("online payments are not configured (stripe_api_key)")
    return _client(
        settings.stripe_api_key,
        settings.stripe_api_base,
        settings.stripe_timeout_s,
        settings.stripe_max_network_retries,
    )


def call(fn: Callable[[], T]) -> T:
    """Run one Stripe call; a lost connection (after the library's retries) or a refusal is named."""
    try:
        return fn()
    except stripe.APIConnectionError as exc:
        raise StripeUnavailable(f"Stripe did not answer: {exc.user_message or exc}") from exc
    except stripe.RateLimitError as exc:
        raise StripeUnavailable("Stripe asks us to slow down; try again shortly") from exc
    except stripe.CardError:
        raise  # the caller records the decline
    except stripe.StripeError as exc:
        if exc.http_status is not None and exc.http_status >= 500:
            raise StripeUnavailable(f"Stripe failed: {exc.user_message or exc}") from exc
        raise StripeRefused(f"Stripe refused: {exc.user_message or exc}") from exc


def plain(obj: Any) -> dict[str, Any]:
    """A Stripe object as plain dicts and lists (what a webhook body holds)."""
    if isinstance(obj, dict):
        return obj
    result: dict[str, Any] = obj.to_dict()
    return result


def object_id(value: Any) -> str | None:
    """An expandable field: an id, an expanded object, or nothing."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        found = value.get("id")
        return str(found) if found else None
    found = getattr(value, "id", None)
    return str(found) if found else None


def charge_of(intent: dict[str, Any]) -> str | None:
    """The charge behind a PaymentIntent: ``latest_charge`` (id or expanded), else the old
    ``charges`` list some API versions (and localstripe) send."""
    charge = object_id(intent.get("latest_charge"))
    if charge:
        return charge
    charges = (intent.get("charges") or {}).get("data") or []
    return object_id(charges[0]) if charges else None


def balance_transactions(settings: Settings, start: int, end: int) -> Iterator[dict[str, Any]]:
    """Stripe's balance transactions created in [start, end) (Unix seconds), newest first.

    Lists newest first and stops past ``start`` rather than filtering on ``created``, which
    localstripe does not accept; Stripe answers both the same way.
    """
    c = client(settings)
    page = call(lambda: c.v1.balance_transactions.list(params={"limit": 100}))
    while True:
        last = None
        for txn in page.data:
            last = txn.id
            if txn.created >= end:
                continue
            if txn.created < start:
                return
            yield plain(txn)
        if not page.has_more or last is None:
            return
        following: Any = {"limit": 100, "starting_after": last}
        page = call(partial(c.v1.balance_transactions.list, params=following))

"""The payments worker: what no request waits for.

Each round processes stored events left unprocessed (a crash between storing and processing),
pays queued auto top-ups, and asks Stripe again for refunds it did not answer. The web service
runs it every ``payments_worker_interval_s`` once Stripe is configured (the payments router's
lifespan); ``card-service payments work`` runs one round from the command line.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from card_service.config import Settings
from card_service.payments import auto_topup, gateway, refunds, webhooks
from card_service.payments.intake import Intake

log = logging.getLogger(__name__)


def run_once(factory: sessionmaker[Session], settings: Settings) -> dict[str, int]:
    done = {"events": webhooks.process_stored(factory, settings)}
    if gateway.configured(settings):
        done["auto_topups"] = auto_topup.run_queued(factory, settings)
        done["refunds"] = refunds.retry_requested(factory, settings)
    return done


async def _loop(app: Any, interval_s: float) -> None:
    while True:
        await asyncio.sleep(interval_s)
        try:
            await asyncio.to_thread(run_once, app.state.sessionmaker, app.state.settings)
        except Exception:  # keep serving; the next round retries
            log.exception("payments worker round failed")


@contextlib.asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    """The web service's payments machinery: the webhook intake, and the worker's rounds."""
    settings: Settings = app.state.settings
    task = None
    if settings.stripe_webhook_secret:
        app.state.payments_intake = Intake(app.state.sessionmaker, settings)
    if settings.payments_worker_interval_s > 0 and gateway.configured(settings):
        task = asyncio.create_task(_loop(app, settings.payments_worker_interval_s))
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        intake = getattr(app.state, "payments_intake", None)
        if intake is not None:
            await asyncio.to_thread(intake.close)
            app.state.payments_intake = None

"""The FastAPI app factory. Routers are listed in ROUTERS, one per audience and domain."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

from fastapi import APIRouter, FastAPI
from sqlalchemy import text

from card_service import __version__
from card_service.api import problems
from card_service.api.deps import DbSession
from card_service.api.fast import FastRoutes, FastTable
from card_service.api.warm import warm_up
from card_service.config import Settings, get_settings
from card_service.db import make_engine, make_read_sessionmaker, make_sessionmaker, transaction

log = logging.getLogger(__name__)
health = APIRouter(tags=["health"])


@health.get("/healthz")
def healthz(session: DbSession) -> dict[str, str]:
    session.execute(text("SELECT 1"))
    return {"status": "ok", "version": __version__}


def routers() -> list[APIRouter]:
    """Every router the service serves; each domain adds its own here."""
    from card_service.audit.endpoints import router as audit_router
    from card_service.bills.endpoints import router as bills_router
    from card_service.cards.endpoints import router as cards_router
    from card_service.identity.endpoints import router as holders_router
    from card_service.me.endpoints import router as me_router
    from card_service.payments.endpoints import router as payments_router
    from card_service.services_api.endpoints import router as services_router
    from card_service.staff.endpoints import router as staff_router
    from card_service.terminals.endpoints import router as terminals_router

    return [
        health,
        staff_router,
        holders_router,
        cards_router,
        me_router,
        audit_router,
        services_router,
        payments_router,
        terminals_router,
        bills_router,
    ]


def fast_tables(settings: Settings) -> list[FastTable]:
    """The plain ASGI routes for the hot paths (api/fast.py); each domain adds its table here."""
    from card_service.payments.fast_webhook import table as payments_table
    from card_service.terminals.fast import table as terminals_table

    tables: list[FastTable] = [payments_table, terminals_table]
    if settings.services_fast_path:
        from card_service.services_api.fast_endpoints import table as services_table

        tables.append(services_table)
    return tables


def _expire_cards(app: FastAPI, today: date) -> None:
    """Cards past their expiry become expired (and deny-listed), in chunks. Whether any is due
    is read first without the write lock: on SQLite every writer (the services' audit records,
    taps, payments) would otherwise wait while the cards are scanned."""
    from card_service.audit.schemas import Actor
    from card_service.cards.service import any_due, expire_due

    with make_read_sessionmaker(app.state.engine)() as session:
        if not any_due(session, today):
            return
    while True:
        with transaction(app.state.sessionmaker) as session:
            if expire_due(session, Actor.system("daily card expiry"), today) == 0:
                return


def _true_up_caps(app: FastAPI) -> None:
    """Refund what passed a daily or weekly cap (terminals/caps.py); no catalogue, nothing to do.
    Counted first without the write lock, as the card expiry is: usually nothing is due."""
    from card_service.catalogue.errors import CatalogueNotLoaded
    from card_service.terminals.caps import true_up

    now = datetime.now(UTC)
    with contextlib.suppress(CatalogueNotLoaded):
        with make_read_sessionmaker(app.state.engine)() as session:
            if not true_up(session, now, write=False):
                return
        with transaction(app.state.sessionmaker) as session:
            true_up(session, now)


async def _maintenance(app: FastAPI, interval_s: float) -> None:
    """Off the request path: chain committed ledger batches (and, on SQLite, index their
    history), expire holds, and once a day (and at start) expire the cards past their date and
    true up the fare caps."""
    from card_service.ledger.seal import seal
    from card_service.ledger.service import expire_holds, index_history

    cards_checked: date | None = None
    while True:
        await asyncio.sleep(interval_s)

        def run() -> None:
            nonlocal cards_checked
            with transaction(app.state.sessionmaker) as session:
                expire_holds(session)
            with transaction(app.state.sessionmaker) as session:
                seal(session)
                index_history(session)
            today = date.today()
            if cards_checked != today:
                _expire_cards(app, today)
                _true_up_caps(app)
                cards_checked = today

        try:
            await asyncio.to_thread(run)
        except Exception:  # keep serving; the next round retries
            log.exception("ledger maintenance failed")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        task = None
        if settings.ledger_maintenance_interval_s > 0:
            task = asyncio.create_task(_maintenance(app, settings.ledger_maintenance_interval_s))
        await warm_up(app)
        if settings.gc_freeze_at_start:
            gc.collect()
            gc.freeze()
        yield
        if task is not None:
            task.cancel()
        app.state.engine.dispose()

    on = settings.telemetry
    app = FastAPI(
        title="Citizen card service",
        version=__version__,
        lifespan=lifespan,
        telemetry={"tracing": on, "metrics": on, "logs": on},
    )
    app.state.settings = settings
    app.state.engine = make_engine(settings.database_url)
    app.state.sessionmaker = make_sessionmaker(app.state.engine)
    problems.install(app)
    for router in routers():
        app.include_router(router)
    tables = fast_tables(settings)
    if tables:
        app.add_middleware(
            FastRoutes,
            exact={k: v for t in tables for k, v in t.exact.items()},
            prefixes=[p for t in tables for p in t.prefixes],
        )
    return app

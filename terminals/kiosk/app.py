"""The kiosk runtime's web app: kiosk_ui's pages, the reader events stream, static files."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from kiosk_ui.kiosk import kiosk_router
from kiosk_ui.public import public_router
from kiosk_ui.render import STATIC_DIR, lang_router, warm_templates
from terminals.kiosk.runtime import KioskRuntime


def create_kiosk_app(rt: KioskRuntime, reader: Any, desk: Any = None) -> FastAPI:
    """``reader`` is started with the app and stopped with it; ``desk`` adds the desk's pages."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        rt.hub.bind(asyncio.get_running_loop())
        await asyncio.to_thread(warm_templates)
        await asyncio.to_thread(rt.start, reader)
        try:
            yield
        finally:
            await asyncio.to_thread(rt.stop)

    app = FastAPI(title="Kiosk", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.runtime = rt
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(lang_router())
    app.include_router(kiosk_router(rt))
    app.include_router(public_router(rt.client))
    if desk is not None:
        app.include_router(desk)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/kiosk/", status_code=303)

    return app

"""The kiosk's screens. ``kiosk_router(rt)`` serves them for a runtime ``rt``
(terminals.kiosk.runtime.KioskRuntime): its session, card_service client, events and devices."""

from __future__ import annotations

import re
import uuid
from datetime import date
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response, StreamingResponse

from kiosk_ui.bills_pages import bills_routes
from kiosk_ui.card_pages import AMOUNTS, card_routes
from kiosk_ui.i18n import day, money, t
from kiosk_ui.nav import ENDED, gone_to, see_other, unless_signed_in
from kiosk_ui.render import lang_of, render
from kiosk_ui.words import describe

SIGN_IN_ERRORS = {
    "pin_blocked": "pin_blocked",
    "card_state_invalid": "card_blocked",
    "card_expired": "card_expired",
    "card_not_found": "card_not_found",
}


def attempts_left(detail: str) -> str:
    found = re.search(r"(\d+) attempts? left", detail)
    return found.group(1) if found else "?"


class Pages:
    """Shared helpers of the kiosk's routes."""

    def __init__(self, rt: Any) -> None:
        self.rt = rt

    def offline(self, request: Request) -> Response:
        lang = lang_of(request)
        self.rt.network_lost()
        card = self.rt.session.card
        offline_card = (
            t(lang, "offline_card", card=card.masked, expires=day(card.expires_at, lang))
            if card is not None
            else None
        )
        return render(
            request,
            "kiosk/message.html",
            "offline",
            status=503,
            here=request.url.path if request.method == "GET" else "/kiosk/home",
            heading=t(lang, "offline_title"),
            text=t(lang, "network_down"),
            offer=t(lang, "network_down_offer"),
            offline_card=offline_card,
            retry="/kiosk/home" if self.rt.session.signed_in else "/kiosk/pin",
            signed_in=False,
            card=card,
            events_url="/kiosk/events",
            demo=self.rt.demo_panel(),
        )

    def failure(self, request: Request, detail: str) -> Response:
        lang = lang_of(request)
        return render(
            request,
            "kiosk/message.html",
            "error",
            status=409,
            heading=t(lang, "error_title"),
            text=t(lang, "error_generic", detail=detail),
            signed_in=self.rt.session.signed_in,
            card=self.rt.session.card,
            events_url="/kiosk/events",
            demo=self.rt.demo_panel(),
        )

    def screen(self, request: Request, template: str, page: str, **ctx: Any) -> Response:
        card = self.rt.session.card
        return render(
            request,
            template,
            page,
            card=card.masked if card else "",
            events_url="/kiosk/events",
            demo=self.rt.demo_panel(),
            **ctx,
        )


def kiosk_router(rt: Any) -> APIRouter:
    from terminals.kiosk.client import ServiceError, ServiceUnreachable
    from terminals.kiosk.session import NoSession

    router = APIRouter(prefix="/kiosk")
    pages = Pages(rt)
    session = rt.session

    @router.get("/")
    def welcome(request: Request, ended: str | None = None) -> Response:
        if session.active and not ended:
            return see_other("/kiosk/home" if session.signed_in else "/kiosk/pin")
        lang = lang_of(request)
        notice = session.notice if ended else None
        notice_text = t(lang, notice.key, **notice.params) if notice else None
        return render(
            request,
            "kiosk/welcome.html",
            "welcome",
            here="/kiosk/",
            ended_text=t(lang, ENDED[ended]) if ended in ENDED else None,
            notice=notice,
            notice_text=notice_text,
            demo=rt.demo_panel(),
            events_url="/kiosk/events",
            banner=None if rt.reader_up else t(lang, "reader_down"),
        )

    @router.get("/events")
    async def events() -> StreamingResponse:
        first = [("state", rt.state())]
        return StreamingResponse(
            rt.hub.stream(first),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    @router.post("/touch", status_code=204)
    def touch() -> None:
        session.touch()

    @router.post("/end")
    def end() -> Response:
        session.end("citizen")
        return see_other("/kiosk/?ended=citizen")

    @router.get("/pin")
    def pin_page(request: Request) -> Response:
        if not session.active:
            return see_other("/kiosk/")
        if session.signed_in:
            return see_other("/kiosk/home")
        session.touch()
        return pages.screen(request, "kiosk/pin.html", "pin")

    @router.post("/pin")
    def pin_submit(request: Request, pin: str = Form("")) -> Response:
        lang = lang_of(request)
        try:
            session.sign_in(pin.strip())
        except NoSession:
            return see_other("/kiosk/")
        except ServiceUnreachable:
            return pages.offline(request)
        except ServiceError as exc:
            if exc.code == "pin_wrong":
                error = t(lang, "pin_wrong", left=attempts_left(exc.detail))
                return pages.screen(request, "kiosk/pin.html", "pin", error=error)
            key = SIGN_IN_ERRORS.get(exc.code)
            if key is None:
                return pages.failure(request, exc.detail)
            return pages.screen(request, "kiosk/pin.html", "pin", error=t(lang, key), final=True)
        rt.prefetch_home()
        return see_other("/kiosk/home")

    def signed_in_or_away() -> Response | None:
        return unless_signed_in(session)

    @router.get("/home")
    def home(request: Request) -> Response:
        if (away := signed_in_or_away()) is not None:
            return away
        lang = lang_of(request)
        try:
            purse = session.take_prefetched("balance")
            with session.operation() as token:
                if session.name is None:
                    session.name = rt.client.overview(token).get("name") or ""
                if purse is None:
                    purse = rt.client.balance(token)
        except NoSession:
            return see_other("/kiosk/")
        except ServiceUnreachable:
            return pages.offline(request)
        return pages.screen(
            request,
            "kiosk/home.html",
            "home",
            name=session.name,
            balance=money(int(purse["balance_cents"]), lang),
        )

    @router.get("/movements")
    def movements(request: Request) -> Response:
        if (away := signed_in_or_away()) is not None:
            return away
        lang = lang_of(request)
        try:
            with session.operation() as token:
                rows = rt.client.movements(token, limit=10)
                purse = rt.client.balance(token)
        except NoSession:
            return see_other("/kiosk/")
        except ServiceUnreachable:
            return pages.offline(request)
        return pages.screen(
            request,
            "kiosk/movements.html",
            "movements",
            movements=[describe(m, lang) for m in rows],
            balance=money(int(purse["balance_cents"]), lang),
        )

    @router.get("/block")
    def block_page(request: Request) -> Response:
        if (away := signed_in_or_away()) is not None:
            return away
        return pages.screen(request, "kiosk/block.html", "block")

    @router.post("/block")
    def block(request: Request, reason: str = Form("lost")) -> Response:
        if (away := signed_in_or_away()) is not None:
            return away
        try:
            with session.operation() as token:
                rt.client.block_card(token, reason if reason in ("lost", "stolen") else "lost")
        except NoSession:
            return see_other("/kiosk/")
        except ServiceUnreachable:
            return pages.offline(request)
        except ServiceError as exc:
            return pages.failure(request, exc.detail)
        session.end("card_blocked")
        return see_other("/kiosk/?ended=card_blocked")

    @router.get("/pin/change")
    def change_pin_page(request: Request) -> Response:
        if (away := signed_in_or_away()) is not None:
            return away
        return pages.screen(request, "kiosk/change_pin.html", "change_pin")

    @router.post("/pin/change")
    def change_pin(
        request: Request,
        old_pin: str = Form(""),
        new_pin: str = Form(""),
        new_pin2: str = Form(""),
    ) -> Response:
        if (away := signed_in_or_away()) is not None:
            return away
        lang = lang_of(request)

        def again(key: str, **p: Any) -> Response:
            return pages.screen(
                request, "kiosk/change_pin.html", "change_pin", error=t(lang, key, **p)
            )

        if not re.fullmatch(r"\d{4,6}", new_pin):
            return again("pinchg_format")
        if new_pin != new_pin2:
            return again("pinchg_mismatch")
        try:
            with session.operation() as token:
                rt.client.change_pin(token, old_pin, new_pin)
        except NoSession:
            return see_other("/kiosk/")
        except ServiceUnreachable:
            return pages.offline(request)
        except ServiceError as exc:
            if exc.code == "pin_wrong":
                return again("pin_wrong", left=attempts_left(exc.detail))
            if exc.code == "pin_blocked":
                session.end("pin_blocked")
                return see_other("/kiosk/?ended=pin_blocked")
            if exc.code == "request_invalid":
                return again("pinchg_format")
            return pages.failure(request, exc.detail)
        return pages.screen(request, "kiosk/change_pin.html", "change_pin", done=True)

    @router.get("/documents/{name}.pdf")
    def document(name: str) -> Response:
        pdf = session.documents.get(name)
        if pdf is None:
            return Response("not found", status_code=404, media_type="text/plain")
        return Response(
            pdf,
            media_type="application/pdf",
            headers={"Content-Disposition": f'inline; filename="{name}.pdf"'},
        )

    @router.get("/topup")
    def topup(
        request: Request,
        message: str | None = None,
        error: str | None = None,
        amount: int = 0,
        receipt: str | None = None,
    ) -> Response:
        if (away := signed_in_or_away()) is not None:
            return away
        lang = lang_of(request)
        try:
            with session.operation() as token:
                purse = rt.client.balance(token)
        except NoSession:
            return see_other("/kiosk/")
        except ServiceUnreachable:
            return pages.offline(request)
        limit = rt.config.purse_limit_cents
        room = max(0, limit - int(purse["balance_cents"]))
        rt.open_cash(room)
        return pages.screen(
            request,
            "kiosk/topup.html",
            "topup",
            here="/kiosk/topup",
            balance=money(int(purse["balance_cents"]), lang),
            limit=money(limit, lang),
            room=room,
            room_text=money(room, lang),
            notes=[(c, money(c, lang)) for c in (500, 1000, 2000, 5000)],
            card_amounts=[(c, money(c, lang)) for c in AMOUNTS if c <= room],
            client_id=uuid.uuid4().hex,
            inserted=money(rt.cash.total_cents, lang),
            message=t(lang, message, amount=money(amount, lang)) if message else None,
            error=t(lang, error, limit=money(limit, lang), room=money(room, lang))
            if error
            else None,
            receipt=receipt if receipt and receipt in session.documents else None,
        )

    @router.post("/topup/cash")
    def insert_cash(cents: int = Form(...)) -> Response:
        if (away := signed_in_or_away()) is not None:
            return away
        outcome, receipt = rt.insert_cash(cents)
        if outcome == "topup_done":
            more = f"&amount={cents}" + (f"&receipt={receipt}" if receipt else "")
            return see_other(f"/kiosk/topup?message=topup_done{more}")
        key = "message" if outcome == "topup_unavailable" else "error"
        return see_other(f"/kiosk/topup?{key}={outcome}")

    router.include_router(bills_routes(rt, pages))
    router.include_router(card_routes(rt, pages))

    @router.post("/demo/card")
    def demo_card(number: str = Form(""), action: str = Form("put")) -> Response:
        if action == "take":
            rt.demo_take()
            return see_other(gone_to(session))
        else:
            rt.demo_put("".join(number.split()))
        return see_other("/kiosk/")

    return router


def today() -> date:
    return date.today()


def new_client_id() -> str:
    return uuid.uuid4().hex

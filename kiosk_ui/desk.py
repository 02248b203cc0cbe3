"""The clerk desk's pages: sign in (password + TOTP), find a holder, register one with evidence,
issue a card personalised in the desk's reader, block and replace, the audit history (auditors).

The staff token lives in the desk runtime, never in the browser: the browser holds a random
cookie that names it (HttpOnly, SameSite=Strict), forgotten at sign-out or after the token's
expiry.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from kiosk_ui.desk_grants import grant_routes
from kiosk_ui.i18n import t
from kiosk_ui.render import lang_of, render

COOKIE = "desk"
GRANT_STATUS = {
    "pending": "grant_pending",
    "scheduled": "grant_scheduled",
    "active": "grant_active",
    "expired": "grant_expired",
    "rejected": "grant_rejected",
    "revoked": "grant_revoked",
}


@dataclass
class StaffSession:
    token: str
    username: str
    role: str
    expires_at: datetime


class DeskSessions:
    def __init__(self) -> None:
        self._by_cookie: dict[str, StaffSession] = {}
        self._lock = threading.Lock()

    def open(self, session: StaffSession) -> str:
        cookie = secrets.token_urlsafe(32)
        with self._lock:
            self._by_cookie[cookie] = session
        return cookie

    def get(self, cookie: str | None) -> StaffSession | None:
        with self._lock:
            found = self._by_cookie.get(cookie or "")
            if found is not None and found.expires_at <= datetime.now(UTC):
                del self._by_cookie[cookie or ""]
                return None
            return found

    def close(self, cookie: str | None) -> StaffSession | None:
        with self._lock:
            return self._by_cookie.pop(cookie or "", None)


NAME_MATCHES_SHOWN = 50  # card_service answers at most this many (identity.names)


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def plain_error(lang: str, code: str) -> str:
    """A named error in plain words, with its code (what the reference documents)."""
    words = t(lang, f"err_{code}")
    return code if words == f"err_{code}" else f"{words} ({code})"


def desk_router(station: Any) -> APIRouter:
    """``station`` is a terminals.kiosk.desk.DeskStation (client, keys, reader)."""
    from terminals.kiosk.client import ServiceError, ServiceUnreachable

    router = APIRouter(prefix="/desk")
    sessions = DeskSessions()
    client = station.client

    def staff_of(request: Request) -> StaffSession | None:
        return sessions.get(request.cookies.get(COOKIE))

    def page(
        request: Request, template: str, page_id: str, staff: StaffSession, **ctx: Any
    ) -> Response:
        return render(request, template, page_id, staff=staff, **ctx)

    def unreachable(request: Request, staff: StaffSession | None) -> Response:
        lang = lang_of(request)
        return render(
            request, "kiosk/message.html", "offline", status=503, heading=t(lang, "offline_title"),
            text=t(lang, "network_down"), retry="/desk/", staff=staff,
        )  # fmt: skip

    @router.get("/")
    def home(request: Request, error: str | None = None) -> Response:
        staff = staff_of(request)
        if staff is None:
            return render(request, "desk/login.html", "desk_login", here="/desk/")
        return page(request, "desk/search.html", "desk_search", staff, error=error)

    @router.post("/login")
    def login(
        request: Request,
        username: str = Form(""),
        password: str = Form(""),
        totp: str = Form(""),
    ) -> Response:
        lang = lang_of(request)
        try:
            out = client.staff_login(username.strip(), password, totp.strip())
        except ServiceUnreachable:
            return unreachable(request, None)
        except ServiceError as exc:
            error = t(lang, "desk_login_failed", detail=exc.detail)
            return render(request, "desk/login.html", "desk_login", here="/desk/", error=error)
        expires = datetime.fromisoformat(out["expires_at"].replace("Z", "+00:00"))
        cookie = sessions.open(StaffSession(out["token"], username.strip(), out["role"], expires))
        response = _redirect("/desk/")
        response.set_cookie(COOKIE, cookie, httponly=True, samesite="strict")
        return response

    @router.post("/logout")
    def logout(request: Request) -> Response:
        staff = sessions.close(request.cookies.get(COOKIE))
        if staff is not None:
            with contextlib.suppress(ServiceError, ServiceUnreachable):  # it expires anyway
                client.staff_logout(staff.token)
        response = _redirect("/desk/")
        response.delete_cookie(COOKIE)
        return response

    @router.get("/find")
    def find(request: Request, national_id: str = "", card: str = "", name: str = "") -> Response:
        staff = staff_of(request)
        if staff is None:
            return _redirect("/desk/")
        lang = lang_of(request)
        try:
            if name.strip() and not (card.strip() or national_id.strip()):
                # The name goes in the request body, never in card_service's access log.
                matches = client.search_holders(staff.token, name.strip())
                return page(
                    request, "desk/search.html", "desk_search", staff, name=name.strip(),
                    matches=matches, capped=len(matches) >= NAME_MATCHES_SHOWN,
                )  # fmt: skip
            if card.strip():
                holder_id = client.card(staff.token, "".join(card.split()))["holder_id"]
            else:
                holder_id = client.lookup(staff.token, national_id.strip())["holder_id"]
        except ServiceUnreachable:
            return unreachable(request, staff)
        except ServiceError as exc:
            error = t(lang, "desk_not_found", detail=exc.detail)
            return page(request, "desk/search.html", "desk_search", staff, error=error)
        return _redirect(f"/desk/holders/{holder_id}")

    @router.get("/holders/new")
    def new_holder(request: Request) -> Response:
        staff = staff_of(request)
        if staff is None:
            return _redirect("/desk/")
        return page(request, "desk/new_holder.html", "desk_new", staff)

    @router.post("/holders")
    async def register(request: Request) -> Response:
        staff = staff_of(request)
        if staff is None:
            return _redirect("/desk/")
        form = {k: str(v).strip() for k, v in (await request.form()).items()}
        person = {
            "given_names": form.get("given_names", ""),
            "surnames": form.get("surnames", ""),
            "national_id": form.get("national_id", ""),
            "date_of_birth": form.get("date_of_birth", ""),
            "address": {"street": form.get("street", ""), "postcode": form.get("postcode", "")},
            "residence_status": form.get("residence_status", "unknown"),
        }
        evidence = {"doc_type": form.get("doc_type", "dni"), "number": form.get("doc_number", "")}
        from starlette.concurrency import run_in_threadpool

        def create() -> str:
            holder = client.create_person(staff.token, person)
            client.add_evidence(staff.token, holder["holder_id"], evidence)
            return str(holder["holder_id"])

        try:
            holder_id = await run_in_threadpool(create)
        except ServiceUnreachable:
            return unreachable(request, staff)
        except ServiceError as exc:
            return page(request, "desk/new_holder.html", "desk_new", staff, error=exc.detail)
        return _redirect(f"/desk/holders/{holder_id}?done=desk_registered_ok")

    def _categories(token: str) -> list[dict[str, Any]]:
        """What may be granted; none (and no grant form) while no catalogue is in force."""
        try:
            return client.categories(token)
        except ServiceUnreachable:
            raise
        except ServiceError:
            return []

    @router.get("/holders/{holder_id}")
    def holder(
        request: Request, holder_id: str, done: str | None = None, number: str = "",
        error: str | None = None,
    ) -> Response:  # fmt: skip
        staff = staff_of(request)
        if staff is None:
            return _redirect("/desk/")
        lang = lang_of(request)
        try:
            found = client.holder(staff.token, holder_id)
            cards = client.holder_cards(staff.token, holder_id)
            evidence = client.evidence(staff.token, holder_id)
            grants = client.grants(staff.token, holder_id)
            categories = _categories(staff.token)
        except ServiceUnreachable:
            return unreachable(request, staff)
        except ServiceError as exc:
            return page(request, "desk/search.html", "desk_search", staff, error=exc.detail)
        for g in grants:
            g["status_text"] = t(lang, GRANT_STATUS[g["status"]])
            g["period"] = f"{g['valid_from'][:10]} to {g['valid_to'][:10]}"
            g["revocable"] = g["status"] in ("pending", "scheduled", "active")
        p = found.get("personal") or {}
        name = f"{p.get('given_names', '')} {p.get('surnames', '')}".strip() or found["holder_id"]
        return page(
            request, "desk/holder.html", "desk_holder", staff, holder=found, p=p, name=name,
            cards=cards, evidence=evidence, grants=grants, categories=categories,
            live=any(c["status"] in ("active", "requested") for c in cards),
            message=t(lang, done, number=number) if done and done.startswith("desk_") else None,
            error=plain_error(lang, error) if error else None,
        )  # fmt: skip

    def card_action(request: Request, holder_id: str, run: Any, done: str) -> Response:
        staff = staff_of(request)
        if staff is None:
            return _redirect("/desk/")
        try:
            number = run(staff)
        except ServiceUnreachable:
            return unreachable(request, staff)
        except ServiceError as exc:
            return _redirect(f"/desk/holders/{holder_id}?error={exc.code}")
        except Exception as exc:  # the card on the reader: missing, locked, torn...
            code = getattr(exc, "code", type(exc).__name__)
            return _redirect(f"/desk/holders/{holder_id}?error={code}")
        return _redirect(f"/desk/holders/{holder_id}?done={done}&number={number}")

    router.include_router(grant_routes(client, card_action))

    @router.post("/holders/{holder_id}/cards")
    def issue(request: Request, holder_id: str, pin: str = Form("")) -> Response:
        return card_action(
            request, holder_id, lambda s: station.issue(s.token, holder_id, pin), "desk_issued"
        )

    @router.post("/cards/{number}/block")
    def block(request: Request, number: str, reason: str = Form("lost")) -> Response:
        staff = staff_of(request)
        holder_id = ""
        if staff is not None:
            try:
                holder_id = client.card(staff.token, number)["holder_id"]
            except (ServiceError, ServiceUnreachable):
                return _redirect("/desk/")
        return card_action(
            request,
            holder_id,
            lambda s: client.block(s.token, number, reason)["number"],
            "desk_blocked",
        )

    @router.post("/cards/{number}/replace")
    def replace(
        request: Request, number: str, holder_id: str = Form(""), pin: str = Form("")
    ) -> Response:
        return card_action(
            request,
            holder_id,
            lambda s: station.issue(s.token, holder_id, pin, replaces=number),
            "desk_replaced",
        )

    def holder_read(request: Request, fetch: Any, show: Any) -> Response:
        """A read about one holder for the signed-in clerk: ``show(staff, fetch(token))``; a
        refusal goes back to the search page saying why."""
        staff = staff_of(request)
        if staff is None:
            return _redirect("/desk/")
        try:
            found = fetch(staff.token)
        except ServiceUnreachable:
            return unreachable(request, staff)
        except ServiceError as exc:
            return page(request, "desk/search.html", "desk_search", staff, error=exc.detail)
        result: Response = show(staff, found)
        return result

    @router.get("/holders/{holder_id}/history")
    def holder_history(request: Request, holder_id: str) -> Response:
        return holder_read(
            request,
            lambda token: client.holder_history(token, holder_id),
            lambda staff, events: page(
                request, "desk/audit.html", "desk_audit", staff, target=holder_id, events=events,
                holder_id=holder_id,
            ),
        )  # fmt: skip

    @router.get("/holders/{holder_id}/export.json")
    def holder_export(request: Request, holder_id: str) -> Response:
        """The GDPR export as a file to hand over (card_service records who exported it)."""
        return holder_read(
            request,
            lambda token: client.holder_export(token, holder_id),
            lambda _staff, document: Response(
                document,
                media_type="application/json",
                headers={
                    "Content-Disposition": f'attachment; filename="holder-{holder_id}.json"',
                    "Cache-Control": "no-store",
                },
            ),
        )

    @router.get("/audit")
    def audit(request: Request, target: str = "") -> Response:
        staff = staff_of(request)
        if staff is None:
            return _redirect("/desk/")
        try:
            events = client.audit(staff.token, target)
        except ServiceUnreachable:
            return unreachable(request, staff)
        except ServiceError as exc:
            return page(request, "desk/search.html", "desk_search", staff, error=exc.detail)
        return page(request, "desk/audit.html", "desk_audit", staff, target=target, events=events)

    return router

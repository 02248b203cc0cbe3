"""Where a kiosk page sends the citizen: 303 redirects, and where to go once nobody is signed in."""

from __future__ import annotations

from typing import Any

from fastapi.responses import RedirectResponse

# Why a session ended -> the message key the welcome screen shows.
ENDED = {
    "timeout": "ended_timeout",
    "card_removed": "ended_card_removed",
    "citizen": "ended_citizen",
    "card_blocked": "ended_card_blocked",
    "pin_blocked": "pin_blocked",
}


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def gone_to(session: Any) -> str:
    """Where a page goes once nobody is signed in: the welcome screen, saying why if it can."""
    reason = session.ended_reason
    return f"/kiosk/?ended={reason}" if reason in ENDED else "/kiosk/"


def unless_signed_in(session: Any) -> RedirectResponse | None:
    """None while a citizen is signed in; else the PIN screen (card on the reader) or welcome."""
    if session.signed_in:
        return None
    return see_other("/kiosk/pin" if session.active else gone_to(session))

"""A bank-card payment holds the kiosk session across requests: the card's removal waits for the
page's report (the payment is not cut in half), and a page that never reports does not keep
holding the next citizen's session. httpx's mock transport stands in for card_service's answers
to sign-in and sign-out, nothing else."""

from __future__ import annotations

import threading
import time

import httpx

from terminals.kiosk.card import PresentedCard
from terminals.kiosk.client import CardServiceClient
from terminals.kiosk.events import EventHub
from terminals.kiosk.session import KioskSession

CARD = PresentedCard("4000000000000002", "04A1A2A3A4A5A6", 2_000_000_000, ())


def session() -> tuple[KioskSession, list[str]]:
    calls: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if request.url.path == "/v1/me/login":
            return httpx.Response(200, json={"token": "t"})
        return httpx.Response(204)

    client = CardServiceClient("http://card.test", transport=httpx.MockTransport(answer))
    s = KioskSession(client, EventHub(), idle_timeout_s=60)
    s.present(CARD)
    s.sign_in("2468")
    return s, calls


def test_card_removal_waits_for_the_held_payment() -> None:
    s, calls = session()
    s.hold("op1")
    ended = threading.Thread(target=s.end, args=("card_removed",))
    ended.start()
    time.sleep(0.3)
    assert ended.is_alive() and s.signed_in  # waiting: the payment is in flight
    with s.holding("op1") as token:  # the page's report is still served with the token
        assert token == "t"
    s.release("op1")
    ended.join(5)
    assert not ended.is_alive() and not s.signed_in
    assert calls[-1] == "/v1/me/logout"


def test_a_page_that_never_reports_does_not_hold_the_next_session() -> None:
    s, _calls = session()
    s.hold("lost")
    s.end("card_removed", wait_s=0.2)  # gives up waiting, ends
    assert s.in_flight == 0
    s.present(CARD)
    s.sign_in("2468")
    with s.operation():
        assert s.in_flight == 1  # only the next citizen's own operation counts
    s.release("lost")  # the old page's late report changes nothing
    assert s.in_flight == 0

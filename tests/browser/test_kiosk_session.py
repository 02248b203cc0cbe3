"""The kiosk in a real browser: present the card, PIN, home, movements, languages, the session's
end (card out, 60 s idle), block, change PIN; axe-core on every screen."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.browser.stack import PIN, Stack
from tests.terminals.rig import VirtualCard

pytestmark = pytest.mark.xdist_group("pcsc")
FIGURES = Path(__file__).resolve().parents[2] / "bench" / "out" / "kiosk-browser.json"


def sign_in(page: Any, stack: Stack, pin: str = PIN) -> VirtualCard:
    page.goto(stack.kiosk.url + "/kiosk/")
    card = stack.card().insert()
    page.wait_for_url("**/kiosk/pin")
    page.fill("#pin", pin)
    page.click("#pin-ok")
    return card


def no_violations(axe: Callable[[Any], list[dict[str, Any]]], page: Any) -> None:
    found = axe(page)
    assert found == [], f"{page.url}: {found}"


def record(figures: dict[str, float]) -> None:
    FIGURES.parent.mkdir(parents=True, exist_ok=True)
    old = json.loads(FIGURES.read_text()) if FIGURES.exists() else {}
    FIGURES.write_text(json.dumps(old | figures, indent=1))


def test_card_pin_home_movements_languages(stack: Stack, page: Any, axe: Any, shot: Any) -> None:
    stack.fund(2000)
    ref = stack.bill(amount=150, concept="Tasa de piscina")
    page.goto(stack.kiosk.url + "/kiosk/")
    page.wait_for_function("window.kioskEvents && window.kioskEvents.readyState === 1")
    assert page.inner_text("h1") == "Acerque su tarjeta al lector"
    no_violations(axe, page)
    shot(page, "01-welcome")

    stack.card().insert()
    page.wait_for_url("**/kiosk/pin")
    presented = page.evaluate("sessionStorage.getItem('cardPresented')")
    assert presented is not None, "the card-presented event never reached the page"
    card_ms = json.loads(presented)
    shown_after_ms = card_ms["shown"] - card_ms["reported"]
    no_violations(axe, page)
    shot(page, "02-pin")

    page.fill("#pin", "0000")
    page.click("#pin-ok")
    assert page.inner_text("#error") == "PIN incorrecto. Le quedan 2 intentos."
    shot(page, "03-pin-wrong")

    page.fill("#pin", PIN)
    page.click("#pin-ok")
    page.wait_for_url("**/kiosk/home")
    home_ms = page.evaluate("window.kioskTimings.homeInteractiveMs")
    assert page.inner_text("h1") == "Hola, Covadonga"
    assert page.inner_text("#balance") == "20,00 EUR"
    no_violations(axe, page)
    shot(page, "04-home")
    record({"card_presented_shown_ms": round(shown_after_ms, 1), "home_interactive_ms": home_ms})

    # A movement in plain words, in each language.
    page.click("#go-bill")
    page.fill("#reference", ref)
    page.click("#bill-find")
    page.click("#bill-pay")
    page.wait_for_url("**/kiosk/paid/**")
    page.click("#back")
    page.click("#go-movements")
    items = page.locator("#movements li").all_inner_texts()
    assert re.fullmatch(rf"Recibo {ref}, \d\d:\d\d: -1,50 EUR", items[0]), items
    assert re.fullmatch(r"Recarga, \d\d:\d\d: 20,00 EUR", items[1]), items
    assert page.inner_text("#balance") == "18,50 EUR"
    no_violations(axe, page)
    shot(page, "05-movements")

    page.click("a[hreflang=ast]")
    assert page.get_attribute("html", "lang") == "ast"
    assert page.inner_text("h1") == "Últimos movimientos"
    assert page.locator("#movements li").first.inner_text().startswith(f"Recibu {ref}")
    no_violations(axe, page)
    page.click("a[hreflang=en]")
    assert page.get_attribute("html", "lang") == "en"
    assert page.inner_text("h1") == "Last movements"
    assert re.fullmatch(
        rf"Bill {ref}, \d\d:\d\d: -1.50 EUR", page.locator("#movements li").first.inner_text()
    )
    page.click("#back")
    assert page.inner_text("h1") == "Hello, Covadonga"

    page.click("#end")
    page.wait_for_url("**/kiosk/?ended=citizen")
    assert "Goodbye" in page.inner_text("#ended")
    assert "Covadonga" not in page.content()


def test_three_wrong_pins_block_the_pin(stack: Stack, page: Any, axe: Any, shot: Any) -> None:
    page.goto(stack.kiosk.url + "/lang/en?next=/kiosk/")
    stack.card().insert()
    page.wait_for_url("**/kiosk/pin")
    errors = []
    for _ in range(3):
        page.fill("#pin", "0000")
        page.click("#pin-ok")
        errors.append(page.inner_text("#error"))
    assert errors[:2] == ["Wrong PIN. 2 tries left.", "Wrong PIN. 1 tries left."]
    assert "blocked after three wrong tries" in errors[2]
    assert page.locator("#pin").count() == 0  # no more tries offered
    assert stack.card_status()["pin_blocked"] is True
    no_violations(axe, page)
    shot(page, "06-pin-blocked")


def test_card_taken_out_ends_the_session_and_clears_the_screen(stack: Stack, page: Any) -> None:
    card_before = sign_in(page, stack)
    page.wait_for_url("**/kiosk/home")
    assert "Covadonga" in page.content()
    card_before.remove()
    page.wait_for_url("**/kiosk/?ended=card_removed")
    assert "Ha retirado la tarjeta" in page.inner_text("#ended")
    assert "Covadonga" not in page.content() and "EUR" not in page.content()
    assert stack.runtime.session.token is None
    page.goto(stack.kiosk.url + "/kiosk/home")  # nothing to go back to
    assert page.url.endswith("/kiosk/?ended=card_removed")
    assert "Covadonga" not in page.content()


def test_sixty_seconds_without_a_touch_end_the_session(stack_factory: Any, page: Any) -> None:
    stack = stack_factory(idle_timeout_s=2.0)
    sign_in(page, stack)
    page.wait_for_url("**/kiosk/home")
    page.mouse.click(5, 600)  # a touch: the session goes on
    page.wait_for_url("**/kiosk/?ended=timeout", timeout=8000)
    assert "sin tocar la pantalla" in page.inner_text("#ended")
    assert "Covadonga" not in page.content()
    token_gone = stack.runtime.session.token is None
    assert token_gone


def test_block_a_lost_card(stack: Stack, page: Any, axe: Any, shot: Any) -> None:
    card = sign_in(page, stack)
    page.click("#go-block")
    no_violations(axe, page)
    shot(page, "07-block")
    page.click("#block-confirm")
    page.wait_for_url("**/kiosk/?ended=card_blocked")
    assert "Su tarjeta está bloqueada" in page.inner_text("#ended")
    status = stack.card_status()
    assert status["status"] == "blocked" and status["block_reason"] == "lost"
    card.remove()
    page.wait_for_url("**/kiosk/?ended=card_removed")
    stack.card().insert()  # the blocked card again: refused at the PIN
    page.wait_for_url("**/kiosk/pin")
    page.fill("#pin", PIN)
    page.click("#pin-ok")
    assert page.inner_text("#error") == (
        "Esta tarjeta está bloqueada. En una oficina de atención ciudadana le darán una nueva."
    )


def test_change_the_pin(stack: Stack, page: Any, axe: Any, shot: Any) -> None:
    card = sign_in(page, stack)
    page.click("#go-pin")
    no_violations(axe, page)
    shot(page, "08-change-pin")
    page.fill("#old_pin", PIN)
    page.fill("#new_pin", "1357")
    page.fill("#new_pin2", "1375")
    page.click("#pin-save")
    assert page.inner_text("#error") == "Los dos PIN nuevos no coinciden."
    page.fill("#old_pin", "9999")
    page.fill("#new_pin", "1357")
    page.fill("#new_pin2", "1357")
    page.click("#pin-save")
    assert page.inner_text("#error") == "PIN incorrecto. Le quedan 2 intentos."
    page.fill("#old_pin", PIN)
    page.fill("#new_pin", "1357")
    page.fill("#new_pin2", "1357")
    page.click("#pin-save")
    assert page.inner_text("#done") == "Su PIN se ha cambiado."
    card.remove()
    page.wait_for_url("**/kiosk/?ended=card_removed")
    stack.card().insert()
    page.wait_for_url("**/kiosk/pin")
    page.fill("#pin", "1357")
    page.click("#pin-ok")
    page.wait_for_url("**/kiosk/home")


def test_a_card_that_is_not_issued_is_refused(stack: Stack, page: Any) -> None:
    from terminals.virtual_card.state import CardFile, CardStore
    from tests.terminals.rig import READER, VirtualCard

    state = stack.tmp / "blank.json"
    CardStore(state).save(CardFile.blank(bytes.fromhex("04AAAAAAAAAAAA"), b"\x00" * 16))
    page.goto(stack.kiosk.url + "/kiosk/")
    page.wait_for_function("window.kioskEvents && window.kioskEvents.readyState === 1")
    card = VirtualCard(state, stack.pcscd, READER)
    stack.cards.append(card)
    card.insert()
    page.wait_for_function(
        "document.getElementById('card-status').textContent.includes('no se puede leer')"
    )
    assert page.url.endswith("/kiosk/")

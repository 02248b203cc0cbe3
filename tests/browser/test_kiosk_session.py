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

pytestmark = pytest.mark.xdist_group("pcsc")
FIGURES = Path(__file__).resolve().parents[2] / "bench" / "out" / "kiosk-browser.json"


def sign_in(page: Any, stack: Stack, pin: str = PIN) -> None:
    page.goto(stack.kiosk.url + "/kiosk/")
    stack.card().insert()
    page.wait_for_url("**/kiosk/pin")
    page.fill("#pin", pin)
    page.click("#pin-ok")


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

"""Paying by bank card at the kiosk in a real browser, against localstripe: a top-up and a bill
paid on Stripe's element (localstripe's Stripe.js), the purse credited only by Stripe's webhook
and the bill settled only once card_service has asked Stripe, receipts, the page's word alone
moving nothing, and the card pulled while the bank confirms.

localstripe's Stripe.js cannot attach the card typed into its element (its createPaymentMethod
is a stub, and its confirmCardPayment only completes 3-D Secure), so each test does that one step
as Stripe.js would: a 3-D Secure card attached and confirmed with the API, which leaves the
PaymentIntent waiting for the holder's authentication. Everything after it is the page's own
``stripe.confirmCardPayment`` and localstripe's 3-D Secure dialog.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import select

from card_service.payments.models import StripeEvent, TopUp
from tests.browser.stack import Stack
from tests.browser.test_kiosk_payments import find_bill, pdf_text, settled_text
from tests.browser.test_kiosk_session import record, sign_in

pytestmark = pytest.mark.xdist_group("pcsc")
THREE_D_SECURE = "4000002760003184"


def card_page_axe(axe: Any, page: Any) -> None:
    # Stripe's card element is Stripe's (an iframe with its own labels on the real Stripe.js;
    # localstripe's bare inputs here): checked everywhere but inside it.
    found = axe(page, "#card-element")
    assert found == [], f"{page.url}: {found}"


def type_card(page: Any) -> None:
    """What the holder types into the element (localstripe's inputs)."""
    for field, value in (("number", THREE_D_SECURE), ("exp_month", "12"), ("exp_year", "34"),
                         ("cvc", "123"), ("postal_code", "33201")):  # fmt: skip
        page.fill(f"#card-element input[placeholder={field}]", value)


def stripe_takes_the_card(stack: Stack, page: Any) -> str:
    """Stripe.js's part that localstripe lacks: attach the card, confirm -> 3-D Secure asked."""
    assert stack.stripe is not None
    intent = page.get_attribute("#card-pay-box", "data-secret").split("_secret_")[0]
    http = stack.stripe.http
    method = http.post(
        "/v1/payment_methods",
        data={"type": "card", "card[number]": THREE_D_SECURE, "card[exp_month]": "12",
              "card[exp_year]": "2034", "card[cvc]": "123"},
    )  # fmt: skip
    assert method.status_code == 200, method.text
    r = http.post(f"/v1/payment_intents/{intent}", data={"payment_method": method.json()["id"]})
    assert r.status_code == 200, r.text
    r = http.post(f"/v1/payment_intents/{intent}/confirm")
    assert r.status_code == 200 and r.json()["status"] == "requires_action", r.text
    return str(intent)


def authenticate(page: Any) -> None:
    """The holder passes the bank's 3-D Secure check (localstripe's dialog)."""
    page.click("text=Complete authentication")


def test_top_up_by_bank_card_credited_by_the_webhook(
    stack_factory: Any, page: Any, axe: Any, shot: Any
) -> None:
    stack = stack_factory(stripe=True)
    stack.fund(1000)
    sign_in(page, stack)
    page.click("#go-topup")
    page.click("#card-2000")
    assert page.inner_text("#card-what") == "Recarga de 20,00 EUR en su tarjeta ciudadana."
    card_page_axe(axe, page)
    shot(page, "16-card-pay")
    type_card(page)
    intent = stripe_takes_the_card(stack, page)
    with stack.desk.sessions()() as s:  # nothing credited before Stripe says it is paid
        topup = s.scalars(select(TopUp).where(TopUp.stripe_payment_intent_id == intent)).one()
        assert topup.status == "pending"
    page.click("#card-pay")
    started = time.monotonic()
    authenticate(page)
    page.wait_for_url("**/kiosk/pay/**")
    # Recorded, not asserted: the bank's "yes" to the done screen (localstripe sends its
    # webhook one second after the charge; the runtime polls card_service every 0.3 s).
    record({"card_topup_authenticated_to_done_ms": (time.monotonic() - started) * 1000})
    assert page.inner_text("#card-outcome") == "Se han añadido 20,00 EUR a su tarjeta."
    assert page.inner_text("h1") == "Recarga hecha"
    assert page.inner_text("#balance") == "30,00 EUR"
    card_page_axe(axe, page)
    shot(page, "17-card-topup-done")
    pdf = pdf_text(
        page.request.get(stack.kiosk.url + page.get_attribute("#receipt", "href")).body()
    )
    assert "20,00 EUR" in pdf and stack.number[-4:] in pdf and intent in pdf
    with stack.desk.sessions()() as s:  # credited by Stripe's webhook, once
        event = s.scalars(
            select(StripeEvent).where(
                StripeEvent.object_id == intent, StripeEvent.type == "payment_intent.succeeded"
            )
        ).one()
        assert event.outcome == "applied"
    page.click("a[hreflang=en]")
    assert page.inner_text("#card-outcome") == "20.00 EUR has been added to your card."


def test_the_pages_word_alone_moves_no_money(stack_factory: Any, page: Any) -> None:
    stack = stack_factory(stripe=True, card_payment_wait_s=2.0)
    sign_in(page, stack)
    page.click("#go-topup")
    page.click("#card-1000")
    op = page.get_attribute("#card-pay-box", "data-op")
    # A page that says "paid" without paying Stripe: the runtime asks card_service, which has
    # no confirmation from Stripe, so nothing is credited and the page says it is not confirmed.
    assert page.request.post(f"{stack.kiosk.url}/kiosk/pay/{op}/start").status == 204
    page.evaluate("document.getElementById('card-finish').submit()")
    page.wait_for_url(f"**/kiosk/pay/{op}")
    assert page.inner_text("#card-outcome").startswith(
        "El banco aún no ha confirmado el pago de 10,00 EUR."
    )
    page.goto(stack.kiosk.url + "/kiosk/home")
    assert page.inner_text("#balance") == "0,00 EUR"
    assert page.request.post(f"{stack.kiosk.url}/kiosk/pay/{op}/start").status == 409


def test_pay_a_bill_by_bank_card(stack_factory: Any, page: Any, axe: Any, shot: Any) -> None:
    stack = stack_factory(stripe=True)
    stack.fund(500)
    ref = stack.bill(amount=4250, concept="Agua, cuarto trimestre")
    sign_in(page, stack)
    page.click("#go-bill")
    find_bill(page, ref)
    page.click("#bill-pay-bank")
    assert page.inner_text("#card-what") == f"Pago de 42,50 EUR por {ref}."
    card_page_axe(axe, page)
    type_card(page)
    intent = stripe_takes_the_card(stack, page)
    assert stack.desk.as_("clerk", "GET", f"/v1/bills/{ref}").json()["status"] == "open"
    page.click("#card-pay")
    authenticate(page)
    page.wait_for_url("**/kiosk/paid/**")
    assert page.inner_text("#paid") == f"Ha pagado 42,50 EUR por {ref}."
    card_page_axe(axe, page)
    text = pdf_text(
        page.request.get(stack.kiosk.url + page.get_attribute("#receipt", "href")).body()
    )
    assert ref in text and "42,50 EUR" in text and "bank card" in text
    assert stack.desk.as_("clerk", "GET", f"/v1/bills/{ref}").json()["status"] == "paid"
    page.goto(stack.kiosk.url + "/kiosk/home")
    assert page.inner_text("#balance") == "5,00 EUR"  # the purse was not touched
    with stack.desk.sessions()() as s:  # the ledger names Stripe's charge: reconciliation
        from card_service.bills.models import Bill
        from card_service.ledger import service as ledger

        bill = s.scalars(select(Bill).where(Bill.reference == ref)).one()
        clearing = ledger.find_account(s, "stripe_clearing").id
        entries = [
            e for e in ledger.history(s, clearing, limit=10) if e.transfer_id == bill.transfer_id
        ]
        assert entries and entries[0].user_data.startswith("ch_")
    assert intent


def test_card_pulled_while_the_bank_confirms(stack_factory: Any, page: Any) -> None:
    stack = stack_factory(stripe=True)
    card = sign_in(page, stack)
    page.click("#go-topup")
    page.click("#card-1000")
    type_card(page)
    stripe_takes_the_card(stack, page)
    page.click("#card-pay")
    page.wait_for_selector("text=Complete authentication")
    card.remove(wait=False)  # the session waits: the payment is in flight
    authenticate(page)
    page.wait_for_url("**/kiosk/?ended=card_removed**")
    assert settled_text(page, "#notice").startswith(
        "Su recarga de 10,00 EUR con tarjeta bancaria se realizó y ya está en su tarjeta."
    )
    pdf = page.request.get(stack.kiosk.url + page.get_attribute("#notice a", "href"))
    assert "10,00 EUR" in pdf_text(pdf.body())
    with stack.desk.sessions()() as s:
        assert [t.status for t in s.scalars(select(TopUp))] == ["succeeded"]

"""The receipt of a bill's payment, as a PDF (rendered from the stored payment, so it is the same
document however often it is fetched)."""

from __future__ import annotations

from typing import Any

from card_service.bills.models import Bill
from card_service.bills.pdf import Document, euros

METHODS = {
    "purse": "Monedero de la tarjeta ciudadana / card purse",
    "card": "Tarjeta bancaria / bank card",
}


def receipt_pdf(bill: Bill, card_number: str | None) -> bytes:
    assert bill.receipt is not None and bill.paid_at is not None
    doc = Document(
        f"Justificante de pago / Receipt {bill.receipt}",
        "Recibos y multas municipales / Municipal bills and fines",
    )
    rows = [
        ("Referencia / Reference", bill.reference),
        ("Concepto / Concept", bill.concept),
        ("Emisor / Issued by", bill.issuer),
        ("Importe / Amount", euros(bill.amount_cents)),
        ("Pagado / Paid at", bill.paid_at.strftime("%d/%m/%Y %H:%M UTC")),
        ("Medio / Method", METHODS.get(bill.method or "", bill.method or "")),
    ]
    if card_number:
        rows.append(("Tarjeta / Card", "**** **** **** " + card_number[-4:]))
    rows.append(("Operación / Transfer", str(bill.transfer_id)))
    doc.facts(rows)
    doc.paragraph(
        "Este justificante acredita el pago del recibo o multa indicado. "
        "This receipt proves the payment of the bill or fine above."
    )
    return doc.bytes()


def online_topup_receipt_pdf(topup: Any, card_number: str) -> bytes:
    """The receipt of a bank-card top-up (payments' ``TopUp`` row, credited)."""
    doc = Document(
        "Justificante de recarga / Top-up receipt",
        "Recarga con tarjeta bancaria / Bank card top-up",
    )
    doc.facts(
        [
            ("Importe / Amount", euros(topup.credited_cents or topup.amount_cents)),
            ("Fecha / Date", topup.updated_at.strftime("%d/%m/%Y %H:%M UTC")),
            ("Medio / Method", METHODS["card"]),
            ("Tarjeta / Card", "**** **** **** " + card_number[-4:]),
            ("Pago / Payment", str(topup.stripe_payment_intent_id)),
            ("Operación / Top-up", str(topup.id)),
        ]
    )
    doc.paragraph(
        "El importe se ha abonado en el monedero de la tarjeta ciudadana. "
        "The amount was credited to the citizen card's purse."
    )
    return doc.bytes()

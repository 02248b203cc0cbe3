"""The receipt of cash paid in at a kiosk, as a PDF (rendered from the stored top-up, so it is the
same document however often it is fetched; the bills' PDF layout)."""

from __future__ import annotations

from card_service.bills.pdf import Document, euros
from card_service.payments.models import KioskCashTopUp


def cash_receipt_pdf(row: KioskCashTopUp, card_number: str) -> bytes:
    doc = Document(
        "Justificante de recarga / Top-up receipt",
        "Recarga en efectivo en un quiosco / Cash top-up at a kiosk",
    )
    doc.facts(
        [
            ("Importe / Amount", euros(row.amount_cents)),
            ("Fecha / Date", row.at.strftime("%d/%m/%Y %H:%M UTC")),
            ("Quiosco / Kiosk", row.kiosk_id),
            ("Tarjeta / Card", "**** **** **** " + card_number[-4:]),
            ("Operación / Transfer", str(row.transfer_id)),
        ]
    )
    doc.paragraph(
        "El importe se ha abonado en el monedero de la tarjeta ciudadana. "
        "The amount was credited to the citizen card's purse."
    )
    return doc.bytes()

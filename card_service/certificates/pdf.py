"""The residence certificate as a PDF: the facts, the verification code, and a QR code of the
verify page's address with the code in it."""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import urlencode

import segno

from card_service.bills.pdf import Document


def verify_link(base_url: str, code: str) -> str:
    return f"{base_url}?{urlencode({'code': code})}"


def certificate_pdf(content: dict[str, Any], code: str, verify_url: str) -> bytes:
    doc = Document(
        "Certificado de empadronamiento / Residence certificate",
        f"N.º / No. {content['serial']}",
    )
    doc.paragraph(
        "El Ayuntamiento certifica que la persona indicada figura inscrita en el Padrón "
        "Municipal de Habitantes con el domicilio siguiente. / The City certifies that the "
        "person below is registered as a resident at this address.",
        size=11,
    )
    doc.facts(
        [
            ("Titular / Holder", str(content["holder_name"])),
            ("Documento / ID", str(content["national_id"])),
            ("Domicilio / Address", str(content["address"])),
            ("Desde / Since", str(content.get("resident_since") or "-")),
            ("Emitido / Issued", str(content["issued_on"])),
            ("Válido hasta / Valid until", str(content["valid_until"])),
        ]
    )
    doc.paragraph("Código de verificación / Verification code:", bold=True, size=11)
    doc.paragraph(code, bold=True, size=16)
    link = verify_link(verify_url, code)
    doc.paragraph(f"Compruébelo en / Check it at: {link}")
    buf = io.BytesIO()
    segno.make(link, error="m").save(buf, kind="png", scale=4, border=2)
    doc.image(buf.getvalue(), 40)
    return doc.bytes()

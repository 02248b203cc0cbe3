"""Issue and verify residence certificates.

The verification code is the first 80 bits, in base32, of HMAC-SHA256 under a key derived (HKDF)
from the PII keyring's lookup key, over the serial and the SHA-256 of the certificate's canonical
content. Verifying recomputes it from the stored, sealed content: a code that does not match its
content (a tampered row) is refused like an unknown one. The code is printed on the PDF with the
verify page's address, and a QR code of both.
"""

from __future__ import annotations

import base64
import hashlib
import hmac as std_hmac
import json
import secrets
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.hmac import HMAC
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select
from sqlalchemy.orm import Session

from card_service.audit import service as audit
from card_service.audit.schemas import Actor
from card_service.certificates.errors import CertificateNotFound, NotResident
from card_service.certificates.models import ResidenceCertificate
from card_service.identity import service as holders
from card_service.identity.crypto import Keyring
from card_service.identity.models import Holder
from card_service.staff.roles import utcnow

_INFO = b"residence certificate code v1"


@dataclass(frozen=True)
class Issued:
    certificate: ResidenceCertificate
    content: dict[str, Any]

    @property
    def code(self) -> str:
        return pretty(self.certificate.code)


def pretty(code: str) -> str:
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def normalise_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def _key(ring: Keyring) -> bytes:
    return HKDF(hashes.SHA256(), 32, salt=None, info=_INFO).derive(ring.lookup_key)


def _canonical(content: dict[str, Any]) -> bytes:
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def verification_code(ring: Keyring, serial: str, content: dict[str, Any]) -> str:
    mac = HMAC(_key(ring), hashes.SHA256())
    mac.update(serial.encode() + b"|" + hashlib.sha256(_canonical(content)).digest())
    return base64.b32encode(mac.finalize()[:10]).decode()  # 16 characters, 80 bits


def mask_national_id(nid: str) -> str:
    return "*" * max(0, len(nid) - 4) + nid[-4:]


def issue(
    session: Session,
    ring: Keyring,
    actor: Actor,
    holder: Holder,
    client_id: str,
    validity_days: int,
) -> Issued:
    """A certificate for a registered resident; the same client id again returns the same one."""
    existing = session.scalars(
        select(ResidenceCertificate).where(
            ResidenceCertificate.holder_id == holder.id,
            ResidenceCertificate.client_id == client_id,
        )
    ).one_or_none()
    if existing is not None:
        return Issued(existing, _open(ring, existing))
    personal = holders.personal_fields(session, ring, holder)
    if personal.get("residence_status") != "registered":
        raise NotResident("the register does not show this holder as a resident")
    now = utcnow()
    serial = f"RC-{now.year}-{secrets.token_hex(4).upper()}"
    address = personal.get("address") or {}
    valid_until = now.date() + timedelta(days=validity_days)
    content: dict[str, Any] = {
        "serial": serial,
        "holder_name": f"{personal.get('given_names', '')} {personal.get('surnames', '')}".strip(),
        "national_id": mask_national_id(str(personal.get("national_id", ""))),
        "address": ", ".join(
            str(address[k]) for k in ("street", "postcode", "city") if address.get(k)
        ),
        "resident_since": personal.get("residence_since"),
        "issued_on": now.date().isoformat(),
        "valid_until": valid_until.isoformat(),
    }
    cert = ResidenceCertificate(
        serial=serial,
        code=verification_code(ring, serial, content),
        holder_id=holder.id,
        client_id=client_id,
        issued_at=now,
        valid_until=valid_until,
        content=ring.seal(_canonical(content), serial.encode()),
    )
    session.add(cert)
    session.flush()
    audit.record(session, actor, "certificate.issue", f"holder:{holder.pseudonym}", reason=serial)
    return Issued(cert, content)


def _open(ring: Keyring, cert: ResidenceCertificate) -> dict[str, Any]:
    content: dict[str, Any] = json.loads(ring.open(cert.content, cert.serial.encode()))
    return content


def of_holder(session: Session, ring: Keyring, holder: Holder, serial: str) -> Issued:
    cert = session.scalars(
        select(ResidenceCertificate).where(
            ResidenceCertificate.serial == serial, ResidenceCertificate.holder_id == holder.id
        )
    ).one_or_none()
    if cert is None:
        raise CertificateNotFound("no certificate of yours has this serial")
    return Issued(cert, _open(ring, cert))


def verify(session: Session, ring: Keyring, code: str, today: date) -> dict[str, Any]:
    wanted = normalise_code(code)
    cert = session.scalars(
        select(ResidenceCertificate).where(ResidenceCertificate.code == wanted)
    ).one_or_none()
    if cert is None:
        raise CertificateNotFound("no certificate has this verification code")
    content = _open(ring, cert)
    if not std_hmac.compare_digest(verification_code(ring, cert.serial, content), wanted):
        raise CertificateNotFound("no certificate has this verification code")
    return content | {"valid": cert.valid_until >= today, "code": pretty(wanted)}

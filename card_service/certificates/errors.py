"""Named errors of residence certificates (docs/reference/errors.md)."""

from card_service.api.problems import DomainError


class NotResident(DomainError):
    """The register does not show the holder as a resident: no certificate is issued."""

    code = "not_resident"
    status = 409


class CertificateNotFound(DomainError):
    """No certificate has this verification code (or serial, for its holder)."""

    code = "certificate_not_found"
    status = 404

"""Named errors of the identity domain (docs/reference/errors.md has one heading each)."""

from __future__ import annotations

from card_service.api.problems import DomainError


class NationalIdInvalid(DomainError):
    code = "national_id_invalid"
    status = 422


class HolderAlreadyExists(DomainError):
    code = "holder_already_exists"
    status = 409


class HolderNotFound(DomainError):
    code = "holder_not_found"
    status = 404


class HolderErased(DomainError):
    code = "holder_erased"
    status = 410


class PiiKeyUnavailable(DomainError):
    code = "pii_key_unavailable"
    status = 500

"""Named errors of entitlement grants (docs/reference/errors.md, services section)."""

from __future__ import annotations

from card_service.api.problems import DomainError


class CategoryUnknown(DomainError):
    code = "category_unknown"
    status = 422


class GrantEvidenceMissing(DomainError):
    code = "grant_evidence_missing"
    status = 422


class GrantPeriodInvalid(DomainError):
    code = "grant_period_invalid"
    status = 422


class GrantOverlaps(DomainError):
    code = "grant_overlaps"
    status = 409


class GrantNotFound(DomainError):
    code = "grant_not_found"
    status = 404


class GrantSelfApproval(DomainError):
    code = "grant_self_approval"
    status = 403


class GrantAlreadyDecided(DomainError):
    code = "grant_already_decided"
    status = 409


class GrantExpired(DomainError):
    code = "grant_expired"
    status = 409

"""Named errors of the service API (docs/reference/errors.md, services section)."""

from __future__ import annotations

import math

from card_service.api.problems import DomainError


class ClientUnauthenticated(DomainError):
    code = "client_unauthenticated"
    status = 401


class ClientDisabled(DomainError):
    code = "client_disabled"
    status = 403


class ClientNotFound(DomainError):
    code = "client_not_found"
    status = 404


class QuestionForbidden(DomainError):
    code = "question_forbidden"
    status = 403


class CategoryForbidden(QuestionForbidden):
    """Entitlement questions about a category the client's policy does not list."""


class PurposeRequired(DomainError):
    code = "purpose_required"
    status = 422


class RateLimited(DomainError):
    code = "rate_limited"
    status = 429

    def __init__(self, retry_after_s: float, detail: str = "") -> None:
        super().__init__(detail or "too many requests for this client; retry later")
        self.headers = {"Retry-After": str(max(1, math.ceil(retry_after_s)))}


class AuditUnavailable(DomainError):
    """The answer is withheld: its audit record could not be committed."""

    code = "audit_unavailable"
    status = 503


class PolicyInvalid(DomainError):
    code = "policy_invalid"
    status = 422

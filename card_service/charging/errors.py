"""Named errors of charging (docs/reference/errors.md, services section)."""

from __future__ import annotations

from card_service.api.problems import DomainError


class CardNotValid(DomainError):
    code = "card_not_valid"
    status = 409


class ChargeIdReused(DomainError):
    code = "charge_id_reused"
    status = 409


class ChargeNotFound(DomainError):
    code = "charge_not_found"
    status = 404


class InsufficientFunds(DomainError):
    code = "insufficient_funds"
    status = 409

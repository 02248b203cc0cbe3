"""Named errors of cards and PINs (docs/reference/errors.md)."""

from __future__ import annotations

from card_service.api.problems import DomainError


class CardNotFound(DomainError):
    code = "card_not_found"
    status = 404


class CardAlreadyActive(DomainError):
    code = "card_already_active"
    status = 409


class CardAlreadyBlocked(DomainError):
    code = "card_already_blocked"
    status = 409


class CardNotBlocked(DomainError):
    code = "card_not_blocked"
    status = 409


class CardStateInvalid(DomainError):
    code = "card_state_invalid"
    status = 409


class CardExpired(DomainError):
    code = "card_expired"
    status = 409


class CardNotRenewable(DomainError):
    code = "card_not_renewable"
    status = 409


class ChipUidTaken(DomainError):
    code = "chip_uid_taken"
    status = 409


class PinWrong(DomainError):
    code = "pin_wrong"
    status = 401


class PinBlocked(DomainError):
    code = "pin_blocked"
    status = 423

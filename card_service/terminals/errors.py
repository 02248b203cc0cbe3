"""Named errors of terminals: enrolment and signed requests (docs/reference/errors.md)."""

from __future__ import annotations

from card_service.api.problems import DomainError


class TerminalNotFound(DomainError):
    code = "terminal_not_found"
    status = 404


class TerminalExists(DomainError):
    code = "terminal_exists"
    status = 409


class TerminalKeyInvalid(DomainError):
    code = "terminal_key_invalid"
    status = 422


class SignatureMissing(DomainError):
    """No Signature-Input, Signature or Content-Digest header: not a terminal request at all."""

    code = "signature_missing"
    status = 400


class TerminalUnknown(DomainError):
    code = "terminal_unknown"
    status = 401


class TerminalDisabled(DomainError):
    code = "terminal_disabled"
    status = 403


class SignatureInvalid(DomainError):
    code = "signature_invalid"
    status = 401


class ClockOutsideWindow(DomainError):
    code = "clock_outside_window"
    status = 401


class BatchMalformed(DomainError):
    code = "batch_malformed"
    status = 422

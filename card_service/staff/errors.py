"""Named errors of staff and session authentication (docs/reference/errors.md)."""

from __future__ import annotations

from card_service.api.problems import DomainError


class AuthenticationRequired(DomainError):
    code = "authentication_required"
    status = 401


class SessionExpired(DomainError):
    code = "session_expired"
    status = 401


class Forbidden(DomainError):
    code = "forbidden"
    status = 403


class LoginFailed(DomainError):
    code = "login_failed"
    status = 401


class TotpInvalid(DomainError):
    code = "totp_invalid"
    status = 401


class TotpReused(DomainError):
    code = "totp_reused"
    status = 401


class TotpNotEnrolled(DomainError):
    code = "totp_not_enrolled"
    status = 409


class TotpAlreadyEnrolled(DomainError):
    code = "totp_already_enrolled"
    status = 409


class AccountLocked(DomainError):
    code = "account_locked"
    status = 423


class StaffAlreadyExists(DomainError):
    code = "staff_already_exists"
    status = 409


class StaffNotFound(DomainError):
    code = "staff_not_found"
    status = 404


class PasswordTooWeak(DomainError):
    code = "password_too_weak"
    status = 422

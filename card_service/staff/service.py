"""Staff accounts: argon2 passwords, TOTP enrolment and single-use codes, login with lockout.

Login and enrolment return an outcome instead of raising, so that the caller can commit the
failure count and the audit record before answering with the error (a failed login must leave a
trace; a rolled-back one would not).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pyotp
import segno
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from card_service.api.problems import DomainError
from card_service.audit import service as audit
from card_service.audit.schemas import Actor
from card_service.config import Settings
from card_service.identity.crypto import Keyring
from card_service.staff.errors import (
    AccountLocked,
    LoginFailed,
    PasswordTooWeak,
    StaffAlreadyExists,
    StaffNotFound,
    TotpAlreadyEnrolled,
    TotpInvalid,
    TotpNotEnrolled,
    TotpReused,
)
from card_service.staff.models import StaffAccount
from card_service.staff.roles import Role, aware, utcnow
from card_service.staff.sessions import IssuedSession, open_session

ISSUER = "Tarjeta Ciudadana"
MIN_PASSWORD = 12
hasher = PasswordHasher()
_DUMMY_HASH = hasher.hash("not a real password, only for constant-time refusals")


@dataclass(frozen=True)
class Lockout:
    """How many failed attempts lock a staff account, and for how long."""

    failures: int
    minutes: int

    @classmethod
    def of(cls, settings: Settings) -> Lockout:
        return cls(settings.staff_lockout_failures, settings.staff_lockout_minutes)


def _staff_actor(account: StaffAccount, request_id: str | None) -> Actor:
    return Actor("staff", account.username, account.role, request_id, account.id)


def get(session: Session, username: str) -> StaffAccount:
    account = session.scalars(
        select(StaffAccount).where(StaffAccount.username == username)
    ).one_or_none()
    if account is None:
        raise StaffNotFound(f"no staff account {username!r}")
    return account


def create(
    session: Session, actor: Actor, *, username: str, display_name: str, role: Role, password: str
) -> StaffAccount:
    if len(password) < MIN_PASSWORD:
        raise PasswordTooWeak(f"a staff password has at least {MIN_PASSWORD} characters")
    exists = session.scalar(select(StaffAccount.id).where(StaffAccount.username == username))
    if exists is not None:
        raise StaffAlreadyExists(f"the username {username!r} is taken")
    account = StaffAccount(
        username=username,
        display_name=display_name,
        role=str(role),
        password_hash=hasher.hash(password),
        totp_enrolled=False,
        totp_last_step=0,
        failed_logins=0,
        active=True,
        created_at=utcnow(),
    )
    session.add(account)
    session.flush()
    audit.record(session, actor, "staff.create", f"staff:{username}", reason=f"role {role}")
    return account


def _secret(ring: Keyring, account: StaffAccount) -> str:
    assert account.totp_secret is not None
    return ring.open(account.totp_secret, f"totp:{account.username}".encode()).decode()


@dataclass
class Outcome:
    """What a login or enrolment step produced: a value, or the error to answer with."""

    error: DomainError | None = None
    session: IssuedSession | None = None
    account: StaffAccount | None = None
    provisioning_uri: str | None = None


def _check_password(
    session: Session,
    username: str,
    password: str,
    *,
    lockout: Lockout,
    request_id: str | None,
    action: str,
) -> StaffAccount | DomainError:
    account = session.scalars(
        select(StaffAccount).where(StaffAccount.username == username).with_for_update()
    ).one_or_none()
    if account is None or not account.active:
        hasher.verify(_DUMMY_HASH, "not a real password, only for constant-time refusals")
        audit.record(
            session,
            Actor("staff", username[:64], "unknown", request_id),
            action,
            f"staff:{username[:64]}",
            outcome="failed",
            reason="unknown or inactive",
        )
        return LoginFailed("wrong username or password")
    if account.locked_until is not None and aware(account.locked_until) > utcnow():
        audit.record(
            session,
            _staff_actor(account, request_id),
            action,
            f"staff:{username}",
            outcome="denied",
            reason="locked",
        )
        return AccountLocked("too many failed attempts: try later or ask an admin to unlock")
    try:
        hasher.verify(account.password_hash, password)
    except (VerificationError, InvalidHashError):
        return _fail(
            session,
            account,
            LoginFailed("wrong username or password"),
            lockout,
            request_id,
            action,
        )
    return account


def _fail(
    session: Session,
    account: StaffAccount,
    error: DomainError,
    lockout: Lockout,
    request_id: str | None,
    action: str,
) -> DomainError:
    account.failed_logins += 1
    reason = error.code
    if account.failed_logins >= lockout.failures:
        account.locked_until = utcnow() + timedelta(minutes=lockout.minutes)
        account.failed_logins = 0
        reason += "; account locked"
    session.flush()
    audit.record(
        session,
        _staff_actor(account, request_id),
        action,
        f"staff:{account.username}",
        outcome="failed",
        reason=reason,
    )
    return error


def _accept_code(account: StaffAccount, secret: str, code: str) -> DomainError | None:
    """Accept a code of the current 30 s step or a neighbour, once: later steps only."""
    totp = pyotp.TOTP(secret)
    now_step = totp.timecode(utcnow())
    for step in (now_step, now_step - 1, now_step + 1):
        if pyotp.utils.strings_equal(totp.generate_otp(step), code):
            if step <= account.totp_last_step:
                return TotpReused("this code was used already: wait for the next one")
            account.totp_last_step = step
            return None
    return TotpInvalid("the authenticator code is wrong")


def start_enrolment(
    session: Session,
    ring: Keyring,
    username: str,
    password: str,
    *,
    lockout: Lockout,
    request_id: str | None,
) -> Outcome:
    checked = _check_password(
        session,
        username,
        password,
        lockout=lockout,
        request_id=request_id,
        action="staff.totp_enrol",
    )
    if isinstance(checked, DomainError):
        return Outcome(error=checked)
    if checked.totp_enrolled:
        return Outcome(error=TotpAlreadyEnrolled("an admin must reset the authenticator first"))
    secret = pyotp.random_base32()
    checked.totp_secret = ring.seal(secret.encode(), f"totp:{checked.username}".encode())
    checked.failed_logins = 0
    session.flush()
    uri = pyotp.TOTP(secret).provisioning_uri(name=checked.username, issuer_name=ISSUER)
    audit.record(
        session, _staff_actor(checked, request_id), "staff.totp_enrol", f"staff:{checked.username}"
    )
    return Outcome(account=checked, provisioning_uri=uri)


def qr_svg(uri: str) -> str:
    data_uri: str = segno.make(uri, error="m").svg_data_uri(scale=4)
    return data_uri


def confirm_enrolment(
    session: Session,
    ring: Keyring,
    username: str,
    password: str,
    code: str,
    *,
    lockout: Lockout,
    request_id: str | None,
) -> Outcome:
    checked = _check_password(
        session,
        username,
        password,
        lockout=lockout,
        request_id=request_id,
        action="staff.totp_confirm",
    )
    if isinstance(checked, DomainError):
        return Outcome(error=checked)
    if checked.totp_enrolled:
        return Outcome(error=TotpAlreadyEnrolled("the authenticator is enrolled already"))
    if checked.totp_secret is None:
        return Outcome(error=TotpNotEnrolled("start the enrolment first"))
    problem = _accept_code(checked, _secret(ring, checked), code)
    if problem is not None:
        return Outcome(
            error=_fail(
                session,
                checked,
                problem,
                lockout,
                request_id,
                "staff.totp_confirm",
            )
        )
    checked.totp_enrolled = True
    checked.failed_logins = 0
    session.flush()
    audit.record(
        session,
        _staff_actor(checked, request_id),
        "staff.totp_confirm",
        f"staff:{checked.username}",
    )
    return Outcome(account=checked)


def login(
    session: Session,
    ring: Keyring,
    username: str,
    password: str,
    code: str,
    *,
    lockout: Lockout,
    session_minutes: int,
    request_id: str | None,
) -> Outcome:
    """A session only after the password and a fresh TOTP code both check out."""
    checked = _check_password(
        session,
        username,
        password,
        lockout=lockout,
        request_id=request_id,
        action="staff.login",
    )
    if isinstance(checked, DomainError):
        return Outcome(error=checked)
    if not checked.totp_enrolled or checked.totp_secret is None:
        return Outcome(error=TotpNotEnrolled("enrol an authenticator before signing in"))
    problem = _accept_code(checked, _secret(ring, checked), code)
    if problem is not None:
        return Outcome(
            error=_fail(
                session,
                checked,
                problem,
                lockout,
                request_id,
                "staff.login",
            )
        )
    checked.failed_logins = 0
    issued = open_session(session, kind="staff", minutes=session_minutes, staff_id=checked.id)
    audit.record(
        session, _staff_actor(checked, request_id), "staff.login", f"staff:{checked.username}"
    )
    return Outcome(account=checked, session=issued)


def unlock(session: Session, actor: Actor, username: str) -> StaffAccount:
    account = get(session, username)
    account.locked_until = None
    account.failed_logins = 0
    session.flush()
    audit.record(session, actor, "staff.unlock", f"staff:{username}")
    return account


def reset_totp(session: Session, actor: Actor, username: str, reason: str) -> StaffAccount:
    account = get(session, username)
    account.totp_secret = None
    account.totp_enrolled = False
    session.flush()
    audit.record(session, actor, "staff.totp_reset", f"staff:{username}", reason=reason)
    return account


def listing(session: Session) -> list[StaffAccount]:
    return list(session.scalars(select(StaffAccount).order_by(StaffAccount.username)))

"""Staff routes: enrolment, login, logout, and the admin's account management."""

from __future__ import annotations

from fastapi import APIRouter, Request

from card_service.api.auth import AdminOnly, AnyStaff, AppSettings, PiiKeys, RequestId
from card_service.api.deps import DbSession
from card_service.db import transaction
from card_service.staff import service
from card_service.staff.models import StaffAccount
from card_service.staff.roles import Role, aware, utcnow
from card_service.staff.schemas import (
    Credentials,
    EnrolmentOut,
    LoginIn,
    SessionOut,
    StaffCreate,
    StaffOut,
)
from card_service.staff.sessions import close

router = APIRouter(prefix="/v1/staff", tags=["staff"])


def _out(a: StaffAccount) -> StaffOut:
    locked = a.locked_until is not None and aware(a.locked_until) > utcnow()
    return StaffOut(
        username=a.username,
        display_name=a.display_name,
        role=Role(a.role),
        totp_enrolled=a.totp_enrolled,
        active=a.active,
        locked=locked,
    )


@router.post("/enrolment")
def start_enrolment(
    body: Credentials, request: Request, settings: AppSettings, ring: PiiKeys, rid: RequestId
) -> EnrolmentOut:
    """Step 1: the password gets a new TOTP secret, shown as a provisioning URI and a QR code."""
    with transaction(request.app.state.sessionmaker) as session:
        out = service.start_enrolment(
            session,
            ring,
            body.username,
            body.password,
            request_id=rid,
            lockout=service.Lockout.of(settings),
        )
    if out.error:
        raise out.error
    assert out.provisioning_uri is not None
    return EnrolmentOut(
        provisioning_uri=out.provisioning_uri, qr_svg_data_uri=service.qr_svg(out.provisioning_uri)
    )


@router.post("/enrolment/confirm")
def confirm_enrolment(
    body: LoginIn, request: Request, settings: AppSettings, ring: PiiKeys, rid: RequestId
) -> StaffOut:
    """Step 2: a first code from the authenticator proves it holds the secret."""
    with transaction(request.app.state.sessionmaker) as session:
        out = service.confirm_enrolment(
            session,
            ring,
            body.username,
            body.password,
            body.totp,
            request_id=rid,
            lockout=service.Lockout.of(settings),
        )
    if out.error:
        raise out.error
    assert out.account is not None
    return _out(out.account)


@router.post("/login")
def login(
    body: LoginIn, request: Request, settings: AppSettings, ring: PiiKeys, rid: RequestId
) -> SessionOut:
    """Password and a fresh TOTP code give a short-lived session token."""
    with transaction(request.app.state.sessionmaker) as session:
        out = service.login(
            session,
            ring,
            body.username,
            body.password,
            body.totp,
            request_id=rid,
            lockout=service.Lockout.of(settings),
            session_minutes=settings.staff_session_minutes,
        )
    if out.error:
        raise out.error
    assert out.session is not None and out.account is not None
    return SessionOut(
        token=out.session.token, expires_at=out.session.expires_at, role=out.account.role
    )


@router.post("/logout", status_code=204)
def logout(session: DbSession, who: AnyStaff) -> None:
    close(session, who.token)


@router.get("/me")
def whoami(session: DbSession, who: AnyStaff) -> StaffOut:
    return _out(service.get(session, who.actor.id))


@router.post("/accounts", status_code=201)
def create_account(body: StaffCreate, session: DbSession, who: AdminOnly) -> StaffOut:
    account = service.create(
        session,
        who.actor,
        username=body.username,
        display_name=body.display_name,
        role=body.role,
        password=body.password,
    )
    return _out(account)


@router.get("/accounts")
def list_accounts(session: DbSession, who: AdminOnly) -> list[StaffOut]:
    return [_out(a) for a in service.listing(session)]


@router.post("/accounts/{username}/unlock")
def unlock(username: str, session: DbSession, who: AdminOnly) -> StaffOut:
    return _out(service.unlock(session, who.actor, username))


@router.post("/accounts/{username}/reset-totp")
def reset_totp(username: str, session: DbSession, who: AdminOnly) -> StaffOut:
    return _out(service.reset_totp(session, who.actor, username, "admin reset"))

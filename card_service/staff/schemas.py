"""Staff requests and answers."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from card_service.staff.roles import Role


class StaffCreate(BaseModel):
    username: str = Field(pattern=r"^[a-z][a-z0-9._-]{2,63}$")
    display_name: str = Field(min_length=1, max_length=128)
    role: Role
    password: str = Field(min_length=1, max_length=256)


class StaffOut(BaseModel):
    username: str
    display_name: str
    role: Role
    totp_enrolled: bool
    active: bool
    locked: bool


class Credentials(BaseModel):
    username: str
    password: str = Field(max_length=256)


class LoginIn(Credentials):
    totp: str = Field(pattern=r"^\d{6}$")


class EnrolmentOut(BaseModel):
    provisioning_uri: str
    qr_svg_data_uri: str


class SessionOut(BaseModel):
    token: str
    expires_at: datetime
    role: str

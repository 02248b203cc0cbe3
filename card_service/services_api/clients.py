"""Registering service clients, rotating their secrets, disabling them, setting their policies.

Each change is audited (target ``service_client:<client id>``). A secret is returned once, at
registration or rotation, and stored only as an argon2id hash.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from card_service.audit import service as audit
from card_service.audit.schemas import Actor
from card_service.services_api.credentials import hash_secret, new_secret
from card_service.services_api.errors import ClientNotFound, PolicyInvalid
from card_service.services_api.models import ServiceClient
from card_service.services_api.policy import Policy
from card_service.services_api.schemas import ClientOut
from card_service.staff.roles import aware, utcnow


@dataclass(frozen=True)
class Issued:
    client: ServiceClient
    secret: str


def _target(client_id: str) -> str:
    return f"service_client:{client_id}"


def _check(policy: Policy, categories: Collection[str]) -> None:
    unknown = sorted(set(policy.categories or ()) - set(categories))
    if unknown:
        raise PolicyInvalid(f"no such categories: {', '.join(unknown)}")


def register(
    session: Session,
    actor: Actor,
    *,
    service: str,
    name: str,
    policy: Policy,
    rate_per_s: int,
    burst: int,
    categories: Collection[str],
) -> Issued:
    """A new client for ``service`` (a code the caller checked against the catalogue)."""
    _check(policy, categories)
    secret = new_secret()
    now = utcnow()
    client = ServiceClient(
        client_id=f"{service}-{secrets.token_hex(4)}",
        service=service,
        name=name,
        secret_hash=hash_secret(secret),
        policy=policy.model_dump_json(),
        rate_per_s=rate_per_s,
        burst=burst,
        active=True,
        created_at=now,
        updated_at=now,
    )
    session.add(client)
    session.flush()
    audit.record(
        session,
        actor,
        "service_client.register",
        _target(client.client_id),
        reason=f"{service}: {', '.join(policy.questions)}; fields: {', '.join(policy.fields) or '-'}",
    )
    return Issued(client, secret)


def get(session: Session, client_id: str, *, lock: bool = False) -> ServiceClient:
    stmt = select(ServiceClient).where(ServiceClient.client_id == client_id)
    row = session.scalars(stmt.with_for_update() if lock else stmt).one_or_none()
    if row is None:
        raise ClientNotFound(f"no service client {client_id!r}")
    return row


def rotate(session: Session, actor: Actor, client_id: str, grace: timedelta) -> Issued:
    """A new secret; the one in use until now keeps working for ``grace``."""
    client = get(session, client_id, lock=True)
    secret = new_secret()
    now = utcnow()
    client.previous_secret_hash = client.secret_hash
    client.previous_valid_until = now + grace
    client.secret_hash = hash_secret(secret)
    client.updated_at = now
    session.flush()
    audit.record(
        session,
        actor,
        "service_client.rotate",
        _target(client_id),
        reason=f"previous secret valid until {client.previous_valid_until.isoformat()}",
    )
    return Issued(client, secret)


def set_active(session: Session, actor: Actor, client_id: str, active: bool) -> ServiceClient:
    client = get(session, client_id, lock=True)
    client.active = active
    client.updated_at = utcnow()
    session.flush()
    action = "service_client.enable" if active else "service_client.disable"
    audit.record(session, actor, action, _target(client_id))
    return client


def set_policy(
    session: Session,
    actor: Actor,
    client_id: str,
    policy: Policy,
    categories: Collection[str],
    *,
    rate_per_s: int | None = None,
    burst: int | None = None,
) -> ServiceClient:
    _check(policy, categories)
    client = get(session, client_id, lock=True)
    client.policy = policy.model_dump_json()
    if rate_per_s is not None:
        client.rate_per_s = rate_per_s
    if burst is not None:
        client.burst = burst
    client.updated_at = utcnow()
    session.flush()
    audit.record(
        session,
        actor,
        "service_client.policy",
        _target(client_id),
        reason=f"{', '.join(policy.questions)}; fields: {', '.join(policy.fields) or '-'}; "
        f"{client.rate_per_s}/s burst {client.burst}",
    )
    return client


def all_clients(session: Session) -> list[ServiceClient]:
    return list(session.scalars(select(ServiceClient).order_by(ServiceClient.id)))


def view(client: ServiceClient) -> ClientOut:
    return ClientOut(
        client_id=client.client_id,
        service=client.service,
        name=client.name,
        policy=Policy.model_validate_json(client.policy),
        rate_per_s=client.rate_per_s,
        burst=client.burst,
        active=client.active,
        previous_secret_valid_until=(
            aware(client.previous_valid_until) if client.previous_valid_until else None
        ),
        created_at=aware(client.created_at),
        updated_at=aware(client.updated_at),
    )

"""Client secrets: argon2id at rest, verified once per process, then a keyed hash in memory.

argon2 costs tens of milliseconds by design, far too much for every request of a service asking
thousands of questions a second. The first request with a secret pays it; the process then
remembers HMAC-SHA256(process key, secret) for the stored hash it matched. Later requests compute
that HMAC (microseconds) and compare in constant time. The process key is random and never
leaves memory, so the cache reveals nothing if dumped alongside the database. A rotation or a
disable changes the stored row: each process reloads its copy of a client after
``services_client_cache_s`` seconds (at once in the process that made the change).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from card_service.services_api.errors import ClientDisabled, ClientUnauthenticated, RateLimited
from card_service.services_api.models import ServiceClient
from card_service.services_api.policy import Policy
from card_service.services_api.ratelimit import RateLimiter
from card_service.staff.roles import aware, utcnow

hasher = PasswordHasher()
# Slow (argon2) verifications a client id may cost per second, with a burst: a wrong secret is
# never cached, so guessing is bounded here.
VERIFY_RATE_PER_S = 1.0
VERIFY_BURST = 10


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return hasher.hash(secret)


@dataclass(frozen=True, slots=True)
class ClientView:
    """What a process knows of a client between reloads."""

    id: int
    client_id: str
    service: str
    name: str
    policy: Policy
    rate_per_s: int
    burst: int
    active: bool
    secret_hash: str
    previous_secret_hash: str | None
    previous_valid_until: datetime | None
    loaded_at: float

    @classmethod
    def of(cls, row: ServiceClient) -> ClientView:
        return cls(
            row.id,
            row.client_id,
            row.service,
            row.name,
            Policy.model_validate_json(row.policy),
            row.rate_per_s,
            row.burst,
            row.active,
            row.secret_hash,
            row.previous_secret_hash,
            aware(row.previous_valid_until) if row.previous_valid_until else None,
            time.monotonic(),
        )

    def hashes_in_force(self, now: datetime) -> list[str]:
        out = [self.secret_hash]
        if (
            self.previous_secret_hash
            and self.previous_valid_until is not None
            and self.previous_valid_until > now
        ):
            out.append(self.previous_secret_hash)
        return out


class Verifier:
    def __init__(self, factory: sessionmaker[Session], ttl_s: float, limiter: RateLimiter) -> None:
        self._factory = factory
        self._ttl_s = ttl_s
        self._limiter = limiter
        self._key = os.urandom(32)
        self._clients: dict[str, ClientView] = {}
        # (client id, stored hash) -> keyed hashes of the secrets verified against that hash.
        self._verified: dict[tuple[str, str], set[bytes]] = {}
        self._lock = threading.Lock()
        self._slow: dict[str, threading.Lock] = {}

    def client(self, client_id: str) -> ClientView | None:
        view = self._clients.get(client_id)
        if view is not None and time.monotonic() - view.loaded_at < self._ttl_s:
            return view
        with self._factory() as session:
            row = session.scalars(
                select(ServiceClient).where(ServiceClient.client_id == client_id)
            ).one_or_none()
            if row is None:
                self._clients.pop(client_id, None)
                return None
            fresh = ClientView.of(row)
        with self._lock:
            self._clients[client_id] = fresh
            if view is not None and view.secret_hash != fresh.secret_hash:
                self._verified = {k: v for k, v in self._verified.items() if k[0] != client_id}
        return fresh

    def invalidate(self, client_id: str) -> None:
        with self._lock:
            self._clients.pop(client_id, None)
            self._verified = {k: v for k, v in self._verified.items() if k[0] != client_id}

    def known(self, client_id: str, secret: str) -> ClientView | None:
        """The client, without any I/O, when its copy is fresh and this secret was verified;
        else None (then ``authenticate``). Raises when the client is disabled."""
        view = self._clients.get(client_id)
        if view is None or time.monotonic() - view.loaded_at >= self._ttl_s:
            return None
        tag = hmac.new(self._key, secret.encode(), hashlib.sha256).digest()
        known = self._verified.get((client_id, view.secret_hash), ())
        if not any(hmac.compare_digest(tag, k) for k in known) and not self._known(
            client_id, view.hashes_in_force(utcnow())[1:], tag
        ):  # the current secret first; the previous one (and the clock) only if it did not match
            return None
        return self._usable(view)

    def authenticate(self, client_id: str, secret: str) -> ClientView:
        view = self.client(client_id)
        if view is None:
            raise ClientUnauthenticated("unknown client id or wrong secret")
        tag = hmac.new(self._key, secret.encode(), hashlib.sha256).digest()
        hashes = view.hashes_in_force(utcnow())
        if self._known(client_id, hashes, tag):
            return self._usable(view)
        # One slow check at a time per client: requests that arrive together with a new secret
        # wait for the first one's answer instead of each paying for argon2.
        with self._slow_lock(client_id):
            if self._known(client_id, hashes, tag):
                return self._usable(view)
            wait = self._limiter.take("verify:" + client_id, VERIFY_RATE_PER_S, VERIFY_BURST)
            if wait:
                raise RateLimited(wait, "too many secret checks for this client; retry later")
            for stored in hashes:
                try:
                    hasher.verify(stored, secret)
                except (VerificationError, InvalidHashError):
                    continue
                with self._lock:
                    self._verified.setdefault((client_id, stored), set()).add(tag)
                return self._usable(view)
        raise ClientUnauthenticated("unknown client id or wrong secret")

    def _known(self, client_id: str, hashes: list[str], tag: bytes) -> bool:
        for stored in hashes:
            known = self._verified.get((client_id, stored), ())
            if any(hmac.compare_digest(tag, k) for k in known):
                return True
        return False

    def _slow_lock(self, client_id: str) -> threading.Lock:
        with self._lock:
            return self._slow.setdefault(client_id, threading.Lock())

    @staticmethod
    def _usable(view: ClientView) -> ClientView:
        if not view.active:
            raise ClientDisabled("this client is disabled")
        return view

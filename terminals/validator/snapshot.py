"""The validator's view of the last snapshot: deny sets, fare rules, issuing keys, time, age.

Snapshots are verified (the city's issuing key, provisioned at installation) and applied page by
page in one journal transaction each, so a power cut mid-sync leaves a consistent older state.
Offline, the validator keeps using the last snapshot and refuses taps once it is older than the
maximum age the snapshot itself states (default 21 days).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from card_service.protocol.certificate import HolderCertificate
from card_service.protocol.errors import CertificateExpired, MalformedInput
from card_service.protocol.fees import FareRules
from card_service.protocol.terminal_wire import verify_snapshot
from terminals.validator.journal import Journal

DEFAULT_MAX_AGE_S = 21 * 86400


class LocalSnapshot:
    def __init__(
        self,
        journal: Journal,
        trusted: Mapping[int, Ed25519PublicKey],
        terminal_id: int,
        clock: Callable[[], float],
    ) -> None:
        self.journal = journal
        self.trusted = dict(trusted)
        self.terminal_id = terminal_id
        self.clock = clock
        self.denied_cards: set[str] = set()
        self.denied_purses: set[str] = set()
        self.rules: FareRules | None = None
        self._meta: dict[str, str] = {}
        self._certificates: dict[bytes, HolderCertificate] = {}
        self._load()

    def _get(self, key: str) -> str | None:
        if key not in self._meta:
            value = self.journal.get(key)
            if value is None:
                return None
            self._meta[key] = value
        return self._meta[key]

    def certificate(self, blob: bytes, now: int) -> HolderCertificate:
        """Verify a holder certificate; a blob verified once is not verified again (its expiry
        is checked every time)."""
        cert = self._certificates.get(blob)
        if cert is None:
            cert = HolderCertificate.verify(blob, self.trusted, now)
            if len(self._certificates) > 100_000:
                self._certificates.clear()
            self._certificates[blob] = cert
        elif now >= cert.expires_at:
            raise CertificateExpired(f"certificate expired at {cert.expires_at}")
        return cert

    def _load(self) -> None:
        for uid, kind in self.journal.deny_all():
            (self.denied_cards if kind == "card" else self.denied_purses).add(uid)
        raw = self.journal.get("rules")
        self.rules = FareRules.from_dict(json.loads(raw)) if raw else None
        keys = json.loads(self.journal.get("issuer_keys") or "{}")
        for k, v in keys.items():
            self.trusted.setdefault(int(k), Ed25519PublicKey.from_public_bytes(bytes.fromhex(v)))

    # -- time and age ------------------------------------------------------------------------
    @property
    def issued_at(self) -> float | None:
        raw = self._get("issued_at")
        return float(raw) if raw else None

    def now(self) -> float:
        """The validator's time: its clock corrected by the offset seen at the last sync."""
        return self.clock() + float(self._get("clock_offset") or 0)

    def age_s(self) -> float | None:
        issued = self.issued_at
        return None if issued is None else self.now() - issued

    def max_age_s(self) -> float:
        return float(self._get("max_age_s") or DEFAULT_MAX_AGE_S)

    def usable(self) -> bool:
        age = self.age_s()
        return age is not None and age <= self.max_age_s()

    # -- applying ------------------------------------------------------------------------------
    def cursors(self) -> dict[str, Any]:
        return {
            "deny_cursor": json.loads(self.journal.get("deny_cursor") or "null"),
            "purse_cursor": json.loads(self.journal.get("purse_cursor") or "null"),
            "rules_version": self.rules.version if self.rules else None,
        }

    def apply(self, doc: Any) -> bool:
        """Verify and apply one snapshot page; True when more pages wait."""
        body = verify_snapshot(doc, self.trusted)
        if body.get("terminal_id") != self.terminal_id:
            raise MalformedInput("snapshot made for another terminal")
        changes: list[tuple[str, str, str]] = []
        for action, uid, *_ in body["deny"]["changes"]:
            changes.append((action, uid, "card"))
        for action, uid in body["purses"]["changes"]:
            changes.append((action, uid, "purse"))
        meta = {
            "issued_at": str(body["issued_at"]),
            "clock_offset": str(body["issued_at"] - self.clock()),
            "max_age_s": str(body["max_age_s"]),
            "deny_cursor": json.dumps(body["deny"]["cursor"]),
            "purse_cursor": json.dumps(body["purses"]["cursor"]),
            "issuer_keys": json.dumps(body["issuer_keys"]),
        }
        rules = body.get("rules")
        new_rules = None
        if isinstance(rules, dict) and "services" in rules:
            new_rules = FareRules.from_dict(rules)
            meta["rules"] = json.dumps(rules)
        self.journal.apply_snapshot(changes, meta)
        self._meta.update(meta)
        for action, uid, kind in changes:
            target = self.denied_cards if kind == "card" else self.denied_purses
            if action == "add":
                target.add(uid)
            else:
                target.discard(uid)
        if new_rules is not None:
            self.rules = new_rules
        for k, v in body["issuer_keys"].items():
            self.trusted.setdefault(int(k), Ed25519PublicKey.from_public_bytes(bytes.fromhex(v)))
        return bool(body["deny"]["more"] or body["purses"]["more"])

"""A terminal's client of the back office: signed uploads and snapshot downloads over HTTP.

Every request is signed with HTTP Message Signatures (RFC 9421, Ed25519) by the terminal's own key:
``@method``, ``@path`` and ``content-digest``, ``keyid`` = terminal id, ``tag`` =
``citycard-terminal``. Transport failures raise ``SyncUnavailable`` (retry later, with backoff);
a refusal by the back office raises ``SyncRefused`` with its problem code.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from http_message_signatures import HTTPMessageSigner, MappingKeyResolver, algorithms

from card_service.protocol.terminal_wire import COVERED, SIGNATURE_TAG

TAPS_PATH = "/v1/terminal/taps"
SNAPSHOT_PATH = "/v1/terminal/snapshot"


class SyncError(Exception):
    code = "sync_error"


class SyncUnavailable(SyncError):
    """The back office could not be reached or did not answer (try again later)."""

    code = "sync_unavailable"


class SyncRefused(SyncError):
    """The back office answered with a problem (signature, clock, terminal disabled...)."""

    code = "sync_refused"

    def __init__(self, status: int, problem_code: str, detail: str) -> None:
        super().__init__(f"{status} {problem_code}: {detail}")
        self.status = status
        self.problem_code = problem_code


@dataclass(frozen=True)
class TerminalIdentity:
    terminal_id: int
    key: Ed25519PrivateKey

    @property
    def public_key(self) -> bytes:
        return self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


class _Message:
    def __init__(self, method: str, url: str, headers: dict[str, str]) -> None:
        self.method, self.url, self.headers = method, url, headers


def signed_headers(
    identity: TerminalIdentity, method: str, url: str, body: bytes, created: float
) -> dict[str, str]:
    """The headers that sign this request (Content-Digest, Signature-Input, Signature)."""
    kid = str(identity.terminal_id)
    signer = HTTPMessageSigner(
        signature_algorithm=algorithms.ED25519,
        key_resolver=MappingKeyResolver(public_keys={}, private_keys={kid: identity.key}),
    )
    message = _Message(method, url, {"Content-Type": "application/json"})
    signer.sign(
        message,
        key_id=kid,
        created=datetime.datetime.fromtimestamp(int(created), tz=datetime.UTC),
        tag=SIGNATURE_TAG,
        label="terminal",
        covered_component_ids=COVERED,
        body=body,
    )
    return message.headers


class SyncClient:
    def __init__(
        self,
        base_url: str,
        identity: TerminalIdentity,
        http: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
        timeout_s: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.identity = identity
        self.http = http or httpx.Client(timeout=timeout_s)
        self.clock = clock

    def _post(self, path: str, doc: Any) -> Any:
        return self._post_body(path, orjson.dumps(doc))

    def _post_body(self, path: str, body: bytes) -> Any:
        url = self.base_url + path
        headers = signed_headers(self.identity, "POST", url, body, self.clock())
        try:
            response = self.http.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise SyncUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code >= 500:
            raise SyncUnavailable(f"back office answered {response.status_code}")
        try:
            answer = orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            raise SyncUnavailable("the answer is not JSON") from exc
        if response.status_code >= 400:
            raise SyncRefused(
                response.status_code, str(answer.get("code")), str(answer.get("detail"))
            )
        return answer

    def upload(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Upload journaled taps; the back office's answer for each, in order."""
        answer = self._post(TAPS_PATH, {"taps": items})
        answers: list[dict[str, Any]] = answer["answers"]
        return answers

    def upload_body(self, body: bytes) -> list[dict[str, Any]]:
        """``upload`` of a body already written: ``{"taps": [...]}`` as JSON (a journal that
        keeps each tap's JSON joins them; nothing is parsed and written again)."""
        answers: list[dict[str, Any]] = self._post_body(TAPS_PATH, body)["answers"]
        return answers

    def snapshot(self, ask: dict[str, Any]) -> dict[str, Any]:
        """The signed snapshot document (the caller verifies its signature)."""
        doc: dict[str, Any] = self._post(SNAPSHOT_PATH, ask)
        return doc

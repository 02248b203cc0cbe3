"""The kiosk's client of card_service, over HTTP (httpx).

Every call goes through ``_request``, the one place where the kiosk's terminal credentials are
added: ``sign`` (``terminals.kiosk.signing.request_signer``) gets the prepared ``httpx.Request``
and adds the RFC 9421 ``Content-Digest``/``Signature-Input``/``Signature`` headers. The desk's
client and a kiosk without an identity file go unsigned (cash top-ups are then refused).

card_service answers errors as RFC 9457 problem JSON; they become ``ServiceError`` with the
problem's stable ``code``. No answer at all (connection refused, timeout) is ``ServiceUnreachable``:
the kiosk then says so plainly and offers what works without the network.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

Signer = Callable[[httpx.Request], None]


class ServiceError(Exception):
    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status, self.code, self.detail = status, code, detail


class ServiceUnreachable(Exception):
    """card_service did not answer (network down, service stopped, timeout)."""


class CardServiceClient:
    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float = 5.0,
        sign: Signer | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.sign = sign
        # Idle connections are dropped before the server's keep-alive (uvicorn: 5 s) would close
        # them under a request on its way.
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=timeout_s,
            transport=transport,
            trust_env=False,
            limits=httpx.Limits(keepalive_expiry=2.0),
        )

    def close(self) -> None:
        self._http.close()

    # -- plumbing -------------------------------------------------------------------------------

    def _request(
        self, method: str, path: str, *, token: str | None = None, retries: int = 0, **kw: Any
    ) -> httpx.Response:
        headers = dict(kw.pop("headers", {}))
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request = self._http.build_request(method, path, headers=headers, **kw)
        if self.sign is not None:
            self.sign(request)
        for attempt in range(retries + 2):
            try:
                response = self._http.send(request)
                break
            except httpx.ConnectError as exc:  # never reached the service: always safe again
                if attempt >= retries + 1:
                    raise ServiceUnreachable(f"{method} {path}: {type(exc).__name__}") from exc
            except (httpx.TransportError, httpx.TimeoutException) as exc:
                if attempt >= retries:
                    raise ServiceUnreachable(f"{method} {path}: {type(exc).__name__}") from exc
        if response.status_code >= 400:
            raise _problem(response)
        return response

    def _json(self, method: str, path: str, **kw: Any) -> Any:
        return self._request(method, path, **kw).json()

    # -- health ---------------------------------------------------------------------------------

    def reachable(self) -> bool:
        try:
            self._request("GET", "/healthz")
        except (ServiceUnreachable, ServiceError):
            return False
        return True

    # -- the citizen's session (card number + PIN) ----------------------------------------------

    def sign_in(self, number: str, pin: str) -> str:
        body = self._json("POST", "/v1/me/login", json={"card_number": number, "pin": pin})
        return str(body["token"])

    def sign_out(self, token: str) -> None:
        self._request("POST", "/v1/me/logout", token=token)

    def overview(self, token: str) -> dict[str, Any]:
        result: dict[str, Any] = self._json("GET", "/v1/me", token=token)
        return result

    def balance(self, token: str) -> dict[str, Any]:
        result: dict[str, Any] = self._json("GET", "/v1/me/balance", token=token)
        return result

    def movements(self, token: str, limit: int = 10) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._json(
            "GET", "/v1/me/movements", token=token, params={"limit": limit}
        )
        return result

    def block_card(self, token: str, reason: str = "lost") -> dict[str, Any]:
        result: dict[str, Any] = self._json(
            "POST", "/v1/me/card/block", token=token, json={"reason": reason}
        )
        return result

    def change_pin(self, token: str, old_pin: str, new_pin: str) -> None:
        self._request(
            "POST", "/v1/me/pin", token=token, json={"old_pin": old_pin, "new_pin": new_pin}
        )

    # -- bills, receipts, certificates ----------------------------------------------------------

    def bill(self, token: str, reference: str) -> dict[str, Any]:
        result: dict[str, Any] = self._json("GET", f"/v1/me/bills/{reference}", token=token)
        return result

    def pay_bill(self, token: str, reference: str, client_id: str) -> dict[str, Any]:
        """Idempotent by ``client_id``: a retry after a lost answer returns the same payment."""
        result: dict[str, Any] = self._json(
            "POST",
            f"/v1/me/bills/{reference}/pay",
            token=token,
            json={"client_id": client_id},
            retries=2,
        )
        return result

    def receipt_pdf(self, token: str, receipt: str) -> bytes:
        return self._request("GET", f"/v1/me/receipts/{receipt}.pdf", token=token).content

    def residence_certificate(self, token: str, client_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._json(
            "POST",
            "/v1/me/certificates/residence",
            token=token,
            json={"client_id": client_id},
            retries=2,
        )
        return result

    def certificate_pdf(self, token: str, serial: str) -> bytes:
        return self._request("GET", f"/v1/me/certificates/{serial}.pdf", token=token).content

    # -- cash paid in at this kiosk (signed by the kiosk terminal) ------------------------------

    def cash_topup(
        self, kiosk_id: int, card_number: str, cents: int, request_id: str
    ) -> dict[str, Any]:
        """Idempotent by ``request_id``: a retry after a lost answer credits once."""
        body = {"request_id": request_id, "card_number": card_number, "amount_cents": cents}
        result: dict[str, Any] = self._json(
            "POST", f"/v1/kiosks/{kiosk_id}/cash-topups", json=body, retries=2
        )
        return result

    def cash_receipt_pdf(self, token: str, topup_id: str) -> bytes:
        return self._request("GET", f"/v1/me/cash-topups/{topup_id}.pdf", token=token).content

    # -- bank-card payments (Stripe's element in the kiosk's browser) ----------------------------

    def start_topup(self, token: str, request_id: str, cents: int) -> dict[str, Any]:
        """A bank-card top-up: its PaymentIntent's client secret (same request id: same one)."""
        body = {"request_id": request_id, "amount_cents": cents}
        result: dict[str, Any] = self._json(
            "POST", "/v1/me/topups", token=token, json=body, retries=2
        )
        return result

    def topup(self, token: str, topup_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._json("GET", f"/v1/me/topups/{topup_id}", token=token)
        return result

    def topup_receipt_pdf(self, token: str, topup_id: str) -> bytes:
        return self._request("GET", f"/v1/me/receipts/topups/{topup_id}.pdf", token=token).content

    def start_bill_card(self, token: str, reference: str, client_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._json(
            "POST",
            f"/v1/me/bills/{reference}/card-payments",
            token=token,
            json={"client_id": client_id},
            retries=2,
        )
        return result

    def check_bill_card(self, token: str, reference: str, intent_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._json(
            "POST", f"/v1/me/bills/{reference}/card-payments/{intent_id}/check", token=token
        )
        return result

    def verify_certificate(self, code: str) -> dict[str, Any]:
        result: dict[str, Any] = self._json("GET", "/v1/certificates/verify", params={"code": code})
        return result


def _problem(response: httpx.Response) -> ServiceError:
    try:
        body = response.json()
        return ServiceError(
            response.status_code, str(body.get("code", "error")), str(body.get("detail", ""))
        )
    except ValueError:
        return ServiceError(response.status_code, "http_error", response.text[:200])

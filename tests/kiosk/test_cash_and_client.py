"""The software cash acceptor's limit, and the client's named errors (no card_service needed:
httpx's mock transport stands in for the network, not for our code)."""

from __future__ import annotations

import httpx
import pytest

from terminals.kiosk.cash import CashRefused, SoftwareCashAcceptor
from terminals.kiosk.client import CardServiceClient, ServiceError, ServiceUnreachable


def test_acceptor_never_takes_more_than_allowed() -> None:
    taken: list[int] = []
    acceptor = SoftwareCashAcceptor()
    with pytest.raises(CashRefused) as closed:
        acceptor.insert(500)
    assert closed.value.code == "cash_closed"
    acceptor.open(1500, taken.append)
    acceptor.insert(1000)
    with pytest.raises(CashRefused) as over:
        acceptor.insert(1000)
    assert over.value.code == "purse_limit"
    with pytest.raises(CashRefused):
        acceptor.insert(700)  # not a denomination
    acceptor.insert(500)
    assert taken == [1000, 500] and acceptor.close() == 1500


def test_problems_become_named_errors_and_silence_is_unreachable() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/me/login":
            return httpx.Response(
                401, json={"code": "pin_wrong", "detail": "wrong PIN; 2 attempts left"}
            )
        raise httpx.ConnectError("refused", request=request)

    signed: list[str] = []
    client = CardServiceClient(
        "http://card.test", transport=httpx.MockTransport(answer),
        sign=lambda r: signed.append(r.url.path),
    )  # fmt: skip
    with pytest.raises(ServiceError) as err:
        client.sign_in("4000000000000002", "0000")
    assert err.value.code == "pin_wrong" and err.value.status == 401
    with pytest.raises(ServiceUnreachable):
        client.balance("token")
    assert client.reachable() is False
    assert signed[:2] == ["/v1/me/login", "/v1/me/balance"]  # every request passes the signer

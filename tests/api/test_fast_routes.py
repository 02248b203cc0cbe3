"""The plain ASGI fast path answers its own paths, turns named errors into problem JSON like the
rest of the API, and hands every other path to FastAPI unchanged."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from card_service.api import problems
from card_service.api.fast import FastRequest, FastResponse, FastRoutes, FastTable
from card_service.api.problems import DomainError


class Busy(DomainError):
    # A documented code (docs/reference/errors.md): tests/test_error_docs.py checks every
    # DomainError subclass alive in the test session, this one too.
    code = "rate_limited"
    status = 429
    headers = {"Retry-After": "7"}


def _app() -> TestClient:
    table = FastTable()

    @table.route("POST", "/v1/echo/")
    async def decline(request: FastRequest) -> FastResponse | None:
        request.json()  # reads the body, then declines: FastAPI must still get it
        return None

    @table.route("POST", "/v1/echo")
    async def echo(request: FastRequest) -> FastResponse:
        body = request.json()
        return FastResponse.json({"got": body, "who": request.headers.get("x-who")}, status=201)

    @table.route("GET", "/v1/things/")
    async def thing(request: FastRequest) -> FastResponse | None:
        if request.params.startswith("slow/"):
            return None  # declined: FastAPI serves it
        if request.params == "busy":
            raise Busy("try later")
        return FastResponse.json({"thing": request.params, "flag": request.state.flag})

    app = FastAPI()
    app.state.flag = "state reached"
    problems.install(app)

    @app.get("/v1/slow")
    def slow() -> dict[str, str]:
        return {"served": "by fastapi"}

    @app.get("/v1/things/slow/{name}")
    def slow_thing(name: str) -> dict[str, str]:
        return {"served": f"{name} by fastapi"}

    @app.post("/v1/echo/{name}")
    def echo_slow(name: str, body: dict[str, int]) -> dict[str, object]:
        return {"served": name, "body": body}

    app.add_middleware(FastRoutes, exact=table.exact, prefixes=table.prefixes)
    return TestClient(app)


def test_a_fast_route_answers_with_its_body_headers_and_status() -> None:
    client = _app()
    r = client.post("/v1/echo", json={"a": [1, 2]}, headers={"X-Who": "bus 12"})
    assert r.status_code == 201
    assert r.json() == {"got": {"a": [1, 2]}, "who": "bus 12"}


def test_a_prefix_route_gets_the_rest_of_the_path_and_the_app_state() -> None:
    assert _app().get("/v1/things/lamp").json() == {"thing": "lamp", "flag": "state reached"}


def test_named_errors_and_bad_json_are_problem_json() -> None:
    client = _app()
    r = client.get("/v1/things/busy")
    assert r.status_code == 429
    assert r.headers["content-type"] == "application/problem+json"
    assert r.headers["retry-after"] == "7"
    assert r.json()["code"] == "rate_limited" and r.json()["detail"] == "try later"
    bad = client.post(
        "/v1/echo", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert bad.status_code == 422 and bad.json()["code"] == "request_invalid"


def test_other_paths_and_methods_fall_through_to_fastapi() -> None:
    client = _app()
    assert client.get("/v1/slow").json() == {"served": "by fastapi"}
    assert client.get("/v1/echo").json()["code"] == "not_found"  # only POST is fast
    assert client.get("/v1/nothing").json()["code"] == "not_found"


def test_a_declined_request_reaches_fastapi_with_its_body() -> None:
    client = _app()
    assert client.get("/v1/things/slow/lamp").json() == {"served": "lamp by fastapi"}
    r = client.post("/v1/echo/twice", json={"n": 2})
    assert r.json() == {"served": "twice", "body": {"n": 2}}

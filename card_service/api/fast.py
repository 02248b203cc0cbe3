"""Plain ASGI routes for the hot paths, in front of FastAPI's routing.

FastAPI matches a request against every route in turn, solves dependencies and validates with
pydantic: about half a millisecond of CPU per request before any work is done. The few paths that
terminals and municipal services call thousands of times a second are served here instead: a
dict lookup on (method, path) or on a path prefix, the body read as bytes, JSON by orjson, and
named errors turned into the same RFC 9457 problem JSON as everywhere else (api/problems.py).
Every other path falls through to FastAPI unchanged, and the OpenAPI page still documents the
FastAPI version of each fast route, which stays as the reference implementation.

Installed with ``app.add_middleware`` (api/app.py) the fast routes sit inside FastAPI's own outer
layers (its telemetry check, Starlette's ServerErrorMiddleware, the body-limit middleware): about
10% of a service-API question's CPU. ``before_fastapi(app)`` gives the server the same routes in
front of those layers instead (``uvicorn --factory card_service.api.fast:create_served_app``);
the app sets no body limit, and an unexpected error still becomes the server's 500.

A handler is ``async def handler(request: FastRequest) -> FastResponse | None``; it reaches the
app's settings, engine and sessionmaker through ``request.state``. A handler that returns None
declines the request (a path under its prefix that it does not serve, say): FastAPI then gets it,
body and all, as if the fast path were not there.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from card_service.api.problems import PROBLEM_BASE, DomainError

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(slots=True)
class FastRequest:
    method: str
    path: str
    query: bytes
    headers: dict[str, str]
    body: bytes
    state: Any
    params: str = ""  # the rest of the path after a prefix route

    def json(self) -> Any:
        try:
            return orjson.loads(self.body)
        except orjson.JSONDecodeError as exc:
            raise MalformedJSON(f"the body is not JSON: {exc}") from None


@dataclass(slots=True)
class FastResponse:
    status: int
    body: bytes
    media_type: str = "application/json"
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)

    @classmethod
    def json(cls, content: Any, status: int = 200) -> FastResponse:
        return cls(status, orjson.dumps(content))


class MalformedJSON(DomainError):
    code = "request_invalid"
    status = 422


Handler = Callable[[FastRequest], Awaitable[FastResponse | None]]


def problem_response(err: DomainError) -> FastResponse:
    body = {
        "type": PROBLEM_BASE + err.code,
        "title": err.code.replace("_", " ").capitalize(),
        "status": err.status,
        "detail": err.detail,
        "code": err.code,
        **(getattr(err, "extra", None) or {}),
    }
    headers = [(k.lower().encode(), v.encode()) for k, v in (err.headers or {}).items()]
    return FastResponse(err.status, orjson.dumps(body), "application/problem+json", headers)


class FastRoutes:
    """ASGI middleware: serves the registered paths itself, hands everything else on."""

    def __init__(
        self,
        app: ASGIApp,
        exact: dict[tuple[str, str], Handler],
        prefixes: list[tuple[str, str, Handler]],
        state: Any = None,
    ) -> None:
        self.app = app
        self.exact = exact
        self.prefixes = prefixes
        self.state = state  # the app's state when in front of it; else the scope's app's

    def _find(self, method: str, path: str) -> tuple[Handler, str] | None:
        handler = self.exact.get((method, path))
        if handler is not None:
            return handler, ""
        for m, prefix, h in self.prefixes:
            if m == method and path.startswith(prefix):
                return h, path[len(prefix) :]
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = (
            self._find(scope["method"], scope["path"])
            if scope["type"] == "http" and DECLINED not in scope
            else None
        )
        if found is None:
            await self.app(scope, receive, send)
            return
        handler, params = found
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        request = FastRequest(
            scope["method"],
            scope["path"],
            scope.get("query_string", b""),
            {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]},
            body,
            self.state if self.state is not None else scope["app"].state,
            params,
        )
        try:
            response = await handler(request)
        except DomainError as err:
            response = problem_response(err)
        if response is None:
            scope[DECLINED] = True  # a second FastRoutes further in does not ask again
            await self.app(scope, _replay(body, receive), send)
            return
        await send(
            {
                "type": "http.response.start",
                "status": response.status,
                "headers": [
                    (b"content-type", response.media_type.encode()),
                    (b"content-length", str(len(response.body)).encode()),
                    *response.headers,
                ],
            }
        )
        await send({"type": "http.response.body", "body": response.body})


DECLINED = "card_service.fast_declined"


def before_fastapi(app: Any) -> Any:
    """``app`` (from api/app.py's create_app) with its fast routes served in front of FastAPI's
    outer layers; what to give the server. The routes stay registered inside too, so the app
    alone (tests, TestClient) serves them as before."""
    for m in app.user_middleware:
        if m.cls is FastRoutes:
            return FastRoutes(app, m.kwargs["exact"], m.kwargs["prefixes"], state=app.state)
    return app


def create_served_app() -> Any:
    """For ``uvicorn --factory card_service.api.fast:create_served_app``."""
    from card_service.api.app import create_app

    return before_fastapi(create_app())


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that hands on the body already read, then whatever comes next."""
    sent = False

    async def again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again


@dataclass
class FastTable:
    """Where domains register their fast routes (see ``fast_routes()`` in api/app.py)."""

    exact: dict[tuple[str, str], Handler] = field(default_factory=dict)
    prefixes: list[tuple[str, str, Handler]] = field(default_factory=list)

    def route(self, method: str, path: str) -> Callable[[Handler], Handler]:
        """Register ``path`` exactly, or every path under it when it ends with ``/``."""

        def register(handler: Handler) -> Handler:
            if path.endswith("/"):
                self.prefixes.append((method, path, handler))
            else:
                self.exact[(method, path)] = handler
            return handler

        return register

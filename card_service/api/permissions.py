"""The permissions reference, generated from the routes' guards (docs/reference/permissions.md).

Each route's roles come from the ``Allow``/``CitizenOnly`` dependency it declares, so the table
cannot drift from the code; tests/api/test_permissions.py calls every route as every role.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi.routing import APIRoute, iter_route_contexts

from card_service.api.auth import Allow, CitizenOnly

AUDIENCES = ("clerk", "supervisor", "auditor", "admin", "finance", "citizen")
# Routes for machines rather than people: a guard with an ``audience`` attribute (the service
# API's client guard) names its column here; staff and citizen sessions get 403 there.
MACHINE_AUDIENCES = ("service",)
PUBLIC = "public"


@dataclass(frozen=True)
class RoutePermission:
    method: str
    path: str
    allowed: frozenset[str]  # roles, or {"public"}
    summary: str

    @property
    def public(self) -> bool:
        return PUBLIC in self.allowed


def _guards(dependant: Any) -> set[str]:
    found: set[str] = set()
    for dep in dependant.dependencies:
        if isinstance(dep.call, Allow):
            found |= {str(r) for r in dep.call.roles}
        elif isinstance(dep.call, CitizenOnly):
            found.add("citizen")
        elif isinstance(getattr(dep.call, "audience", None), str):
            found.add(dep.call.audience)
        found |= _guards(dep)
    return found


def table() -> list[RoutePermission]:
    from card_service.api.app import routers

    rows = []
    for router in routers():
        # Routers a domain includes in its own router are visited too (with their prefixes).
        for context in iter_route_contexts(router.routes):
            route = context.original_route
            if not isinstance(route, APIRoute):
                continue
            path = context.path or route.path
            roles = _guards(route.dependant) or {PUBLIC}
            doc = (route.endpoint.__doc__ or route.name.replace("_", " ")).strip()
            for method in sorted(route.methods or ()):
                rows.append(RoutePermission(method, path, frozenset(roles), doc.splitlines()[0]))
    return rows


def markdown() -> str:
    columns = (*AUDIENCES, *MACHINE_AUDIENCES)
    lines = [
        "# Permissions",
        "",
        "Generated from the code by `card-service staff permissions --write "
        "docs/reference/permissions.md`; do not edit by hand. tests/api/test_permissions.py "
        "calls every route as every role and checks the answers against this table.",
        "",
        "Roles: **clerk** (the desk), **supervisor** (the desk's exceptions: unblock, revoke, "
        "erase), **auditor** (reads the audit trail, nothing else), **admin** (staff accounts and "
        "service clients, nothing about holders), **finance** (the city's revenue and concession "
        "reports, reconciliation with Stripe, kiosk cash), **citizen** (a card-and-PIN session, only their own data), **service** (a "
        "city service's registered client, within its policy: docs/reference/service-api.md). "
        "*public* routes need no session (they check a password, TOTP code or PIN themselves). "
        "A refusal is `403 forbidden` and an audit record with outcome `denied`; no session is "
        "`401 authentication_required`, an expired one `401 session_expired`.",
        "",
        "| Method | Path | " + " | ".join(columns) + " | What |",
        "|---|---|" + "---|" * len(columns) + "---|",
    ]
    for row in table():
        cells = ["public" if row.public else ("yes" if a in row.allowed else "-") for a in columns]
        lines.append(
            f"| {row.method} | `{row.path}` | " + " | ".join(cells) + f" | {row.summary} |"
        )
    return "\n".join(lines) + "\n"

"""``card-service services ...``: the catalogue, service clients, accounts and the daily report."""

from __future__ import annotations

import json
from datetime import date, timedelta

import typer

from card_service.catalogue.cli import catalogue_app

services_api_app = typer.Typer(
    help="The city's services: catalogue, entitlements and service clients.",
    no_args_is_help=True,
)
client_app = typer.Typer(help="Registered clients of the service API.", no_args_is_help=True)
services_api_app.add_typer(catalogue_app, name="catalogue")
services_api_app.add_typer(client_app, name="client")

QUESTIONS_HELP = "Comma-separated: card_status, entitlement, quote, charge, usage."
FIELDS_HELP = "Comma-separated personal fields: birth_date, name, address, residence_status."


def _list(text: str | None) -> list[str]:
    return [p.strip() for p in (text or "").split(",") if p.strip()]


def _policy(questions: str, fields: str | None, categories: str | None) -> object:
    from pydantic import ValidationError

    from card_service.services_api.policy import Policy

    try:
        return Policy.model_validate(
            {
                "questions": _list(questions),
                "fields": _list(fields),
                "categories": _list(categories) if categories is not None else None,
            }
        )
    except ValidationError as exc:
        raise typer.BadParameter(str(exc)) from exc


@client_app.command("add")
def add(
    service: str = typer.Option(..., help="The catalogue's service code (bus, sports, ...)."),
    name: str = typer.Option(..., help="The system this client is (e.g. 'Bus validators')."),
    questions: str = typer.Option("card_status", help=QUESTIONS_HELP),
    fields: str | None = typer.Option(None, help=FIELDS_HELP),
    categories: str | None = typer.Option(None, help="Categories it may ask about (default: all)."),
    rate: int | None = typer.Option(None, help="Requests per second (default from settings)."),
    burst: int | None = typer.Option(None, help="Burst (default from settings)."),
) -> None:
    """Register a client; prints its id and secret (the secret is shown only now)."""
    from card_service.audit.schemas import Actor
    from card_service.catalogue.service import in_force
    from card_service.config import get_settings
    from card_service.db import configured_sessions, transaction
    from card_service.services_api import clients
    from card_service.services_api.policy import Policy
    from card_service.staff.roles import utcnow

    policy = _policy(questions, fields, categories)
    assert isinstance(policy, Policy)
    settings = get_settings()
    with transaction(configured_sessions()) as session:
        rules = in_force(session, utcnow())
        if service not in rules.services:
            raise typer.BadParameter(f"no service {service!r} in the catalogue in force")
        issued = clients.register(
            session,
            Actor.system("services client add"),
            service=service,
            name=name,
            policy=policy,
            rate_per_s=rate or settings.services_default_rate_per_s,
            burst=burst or settings.services_default_burst,
            categories=list(rules.categories),
        )
        client_id = issued.client.client_id
    typer.echo(f"client_id: {client_id}\nsecret: {issued.secret}")


@client_app.command("rotate")
def rotate(
    client_id: str = typer.Argument(..., help="The client's id."),
    grace_hours: int | None = typer.Option(
        None, help="How long the old secret keeps working (default from settings)."
    ),
) -> None:
    """Give the client a new secret (printed once); the old one works for the grace period."""
    from card_service.audit.schemas import Actor
    from card_service.config import get_settings
    from card_service.db import configured_sessions, transaction
    from card_service.services_api import clients

    hours = get_settings().services_rotation_grace_hours if grace_hours is None else grace_hours
    with transaction(configured_sessions()) as session:
        issued = clients.rotate(
            session, Actor.system("services client rotate"), client_id, timedelta(hours=hours)
        )
        until = issued.client.previous_valid_until
    typer.echo(f"secret: {issued.secret}\nprevious secret valid until: {until}")


@client_app.command("disable")
def disable(client_id: str = typer.Argument(..., help="The client's id.")) -> None:
    """Refuse the client from now on (running processes follow within the client cache time)."""
    from card_service.audit.schemas import Actor
    from card_service.db import configured_sessions, transaction
    from card_service.services_api import clients

    with transaction(configured_sessions()) as session:
        clients.set_active(session, Actor.system("services client disable"), client_id, False)
    typer.echo(f"disabled {client_id}")


@client_app.command("policy")
def policy(
    client_id: str = typer.Argument(..., help="The client's id."),
    questions: str = typer.Option(..., help=QUESTIONS_HELP),
    fields: str | None = typer.Option(None, help=FIELDS_HELP),
    categories: str | None = typer.Option(None, help="Categories it may ask about."),
    rate: int | None = typer.Option(None, help="Requests per second."),
    burst: int | None = typer.Option(None, help="Burst."),
) -> None:
    """Replace the client's policy (and, if given, its rate limit)."""
    from card_service.audit.schemas import Actor
    from card_service.catalogue.service import in_force
    from card_service.db import configured_sessions, transaction
    from card_service.services_api import clients
    from card_service.services_api.policy import Policy
    from card_service.staff.roles import utcnow

    new = _policy(questions, fields, categories)
    assert isinstance(new, Policy)
    with transaction(configured_sessions()) as session:
        cats = list(in_force(session, utcnow()).categories)
        clients.set_policy(
            session,
            Actor.system("services client policy"),
            client_id,
            new,
            cats,
            rate_per_s=rate,
            burst=burst,
        )
    typer.echo(f"{client_id}: {new.model_dump_json()}")


@client_app.command("list")
def list_clients() -> None:
    """Every client, its service, policy and state (never a secret)."""
    from card_service.db import configured_sessions
    from card_service.services_api import clients

    with configured_sessions()() as session:
        for c in clients.all_clients(session):
            v = clients.view(c)
            state = "active" if v.active else "disabled"
            typer.echo(f"{v.client_id}\t{v.service}\t{state}\t{v.policy.model_dump_json()}")


@services_api_app.command("open-accounts")
def open_accounts() -> None:
    """Open the revenue account of every service and the budget of every concession category."""
    from card_service.catalogue.service import in_force
    from card_service.charging import accounts
    from card_service.db import configured_sessions, transaction
    from card_service.staff.roles import utcnow

    with transaction(configured_sessions()) as session:
        codes = accounts.open_for(session, in_force(session, utcnow()))
    typer.echo(f"{len(codes)} accounts open: {', '.join(codes)}")


@services_api_app.command("report")
def report(
    day: str = typer.Option(None, help="The city day, YYYY-MM-DD (default: yesterday)."),
    service: str | None = typer.Option(None, help="Only this service."),
    as_json: bool = typer.Option(False, "--json", help="One JSON document instead of a table."),
) -> None:
    """Per service for one day: uses, revenue (full price), concession cost by category."""
    from card_service.charging.report import daily
    from card_service.db import configured_sessions

    when = date.fromisoformat(day) if day else date.today() - timedelta(days=1)
    with configured_sessions()() as session:
        rows = daily(session, when, service)
    if as_json:
        typer.echo(json.dumps([r.model_dump(mode="json") for r in rows], indent=2))
        return
    typer.echo(
        f"{'service':<16}{'uses':>8}{'refused':>9}{'revenue':>12}{'holders':>12}{'concess.':>12}"
    )
    for r in rows:
        typer.echo(
            f"{r.service:<16}{r.uses:>8}{r.refused:>9}{_eur(r.revenue_cents):>12}"
            f"{_eur(r.holder_cents):>12}{_eur(r.concession_cents):>12}"
        )
        for c in r.concessions:
            typer.echo(f"  {c.category:<22}{c.uses:>8} uses {_eur(c.cost_cents):>12}")


def _eur(cents: int) -> str:
    return f"{cents / 100:,.2f}"

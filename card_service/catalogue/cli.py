"""``card-service services catalogue ...``: load a catalogue file, list versions, quote a use."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import typer

catalogue_app = typer.Typer(
    help="The catalogue of services, products and fare rules (versioned).", no_args_is_help=True
)


def _moment(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise typer.BadParameter(f"{text!r} is not an ISO 8601 date and time") from exc
    if moment.tzinfo is None:
        raise typer.BadParameter("give a time zone, e.g. 2026-12-01T04:30+01:00 or ...Z")
    return moment


@catalogue_app.command("load")
def load(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="The YAML catalogue."),
    effective_from: str | None = typer.Option(
        None, "--from", help="ISO moment it takes effect (with time zone); default now."
    ),
    actor: str = typer.Option("catalogue load", help="Who loads it (recorded and audited)."),
    if_empty: bool = typer.Option(False, help="Do nothing when a catalogue is already loaded."),
) -> None:
    """Validate FILE whole and schedule it; a bad file changes nothing (exit 1, line and reason)."""
    from card_service.audit.schemas import Actor
    from card_service.catalogue import service
    from card_service.catalogue.errors import CatalogueInvalid, EffectiveFromPast
    from card_service.db import configured_sessions, transaction

    when = _moment(effective_from)
    factory = configured_sessions()
    try:
        with transaction(factory) as session:
            if if_empty and service.versions(session):
                typer.echo("a catalogue is loaded already: nothing done")
                return
            info = service.load(
                session, file.read_text(encoding="utf-8"), when, Actor.system(actor)
            )
    except CatalogueInvalid as exc:
        typer.echo(f"{file}:{exc.line or '?'}: {exc.reason}", err=True)
        raise typer.Exit(1) from exc
    except EffectiveFromPast as exc:
        typer.echo(exc.detail, err=True)
        raise typer.Exit(1) from exc
    state = "loaded" if info.created else "already loaded"
    typer.echo(f"{state} {info.version}, in force from {info.effective_from.isoformat()}")


@catalogue_app.command("versions")
def list_versions() -> None:
    """Every loaded version with when it takes effect and who loaded it."""
    from card_service.catalogue import service
    from card_service.db import configured_sessions, transaction

    with transaction(configured_sessions()) as session:
        for v in service.versions(session):
            typer.echo(
                f"{v.version}  from {v.effective_from.isoformat()}  "
                f"loaded {v.loaded_at.isoformat()} by {v.loaded_by}"
            )


@catalogue_app.command("quote")
def quote(
    service_code: str = typer.Argument(..., metavar="SERVICE"),
    product: str = typer.Argument(...),
    at: str | None = typer.Option(None, help="ISO moment of use (default now)."),
    born: str | None = typer.Option(None, help="Birth date, YYYY-MM-DD."),
    category: list[str] = typer.Option([], help="A proof-based category (repeatable)."),
    quantity: int = typer.Option(1, help="Minutes or units for per-minute products."),
) -> None:
    """What one use would cost (no history: no transfer, cap or pass applies)."""
    from card_service.catalogue import service
    from card_service.db import configured_sessions, transaction
    from card_service.protocol.fees import Rider

    rider = Rider(date.fromisoformat(born) if born else None, frozenset(category))
    with transaction(configured_sessions()) as session:
        q = service.quote(session, rider, service_code, product, _moment(at), quantity=quantity)
    typer.echo(
        f"{q.explanation}\nprice {q.price_cents} holder {q.holder_cents} "
        f"concession {q.concession_cents} ({q.concession_category or '-'}) rule {q.rule}"
    )

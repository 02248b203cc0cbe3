"""The ``card-service`` command. Each domain adds a sub-command group here."""

from __future__ import annotations

import typer

from card_service.audit.cli import audit_app
from card_service.cards.cli import cards_app
from card_service.catalogue.cli import catalogue_app
from card_service.cli_keys import keys_app
from card_service.demo.cli import demo_app
from card_service.identity.cli import holders_app, rotate_pii
from card_service.ledger.cli import ledger_app
from card_service.payments.cli import payments_app
from card_service.services_api.cli import services_api_app
from card_service.staff.cli import staff_app
from card_service.terminals.cli import simulate_cmd, terminals_app

app = typer.Typer(help="The citizen card service.", no_args_is_help=True)
app.add_typer(ledger_app, name="ledger")
app.add_typer(keys_app, name="keys")
app.add_typer(audit_app, name="audit")
app.add_typer(cards_app, name="cards")
app.add_typer(demo_app, name="demo")
app.add_typer(staff_app, name="staff")
app.add_typer(services_api_app, name="services")
services_api_app.add_typer(catalogue_app, name="catalogue")
app.add_typer(payments_app, name="payments")
app.add_typer(terminals_app, name="terminals")
keys_app.command("rotate-pii")(rotate_pii)
app.add_typer(holders_app, name="holders")
app.command("simulate")(simulate_cmd)  # card-service simulate = card-service terminals simulate


@app.command()
def migrate() -> None:
    """Bring the database (CARD_SERVICE_DATABASE_URL) to the newest schema."""
    from card_service.migrate import upgrade

    upgrade()
    typer.echo("database is at the newest schema")


@app.command()
def serve(
    host: str = typer.Option(None, help="Address to listen on (default from settings)."),
    port: int = typer.Option(None, help="Port (default from settings)."),
    workers: int = typer.Option(1, min=1, help="Server processes (one per core at most)."),
    access_log: bool = typer.Option(
        True, help="Log every request (one line each); off saves CPU on busy terminals' routes."
    ),
) -> None:
    """Serve the HTTP API."""
    import os

    import uvicorn

    from card_service.config import get_settings

    # What start-up built lives as long as the process: frozen out of the collector's walks.
    os.environ.setdefault("CARD_SERVICE_GC_FREEZE_AT_START", "true")
    settings = get_settings()
    uvicorn.run(
        "card_service.api.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        access_log=access_log,
    )


if __name__ == "__main__":
    app()

"""``card-service terminals``: enrol and disable terminals, the exceptions report, the simulator."""

from __future__ import annotations

import json

import typer

terminals_app = typer.Typer(
    help="Terminals: enrolment, snapshots, settlement and the simulator.",
    no_args_is_help=True,
)


@terminals_app.command("enrol")
def enrol_cmd(
    terminal_id: int = typer.Option(..., "--id", help="Terminal id (1 to 4294967295)."),
    kind: str = typer.Option(..., help="bus_validator, door_reader or kiosk."),
    service: str = typer.Option(..., help="The service it belongs to (e.g. bus)."),
    place: str = typer.Option(..., help="Its vehicle or place."),
    public_key: str = typer.Option(..., help="Its Ed25519 public key, 64 hex digits."),
) -> None:
    """Enrol a terminal (what an admin does in the API, for scripted roll-outs)."""
    from card_service.audit.schemas import Actor
    from card_service.db import configured_sessions, transaction
    from card_service.protocol.terminal_wire import TERMINAL_KINDS
    from card_service.terminals.enrolment import enrol

    if kind not in TERMINAL_KINDS:
        raise typer.BadParameter(f"kind is one of {', '.join(TERMINAL_KINDS)}")
    with transaction(configured_sessions()) as session:
        enrol(
            session,
            Actor.system("terminals enrol"),
            terminal_id=terminal_id,
            kind=kind,
            service=service,
            place=place,
            public_key=bytes.fromhex(public_key),
        )
    typer.echo(f"terminal {terminal_id} enrolled")


@terminals_app.command("disable")
def disable_cmd(
    terminal_id: int = typer.Option(..., "--id"),
    reason: str = typer.Option(..., help="Why (kept in the audit trail)."),
) -> None:
    """Disable a terminal: its requests are refused from now on."""
    from card_service.audit.schemas import Actor
    from card_service.db import configured_sessions, transaction
    from card_service.terminals.enrolment import disable

    with transaction(configured_sessions()) as session:
        disable(session, Actor.system("terminals disable"), terminal_id, reason)
    typer.echo(f"terminal {terminal_id} disabled")


@terminals_app.command("exceptions")
def exceptions_cmd(limit: int = typer.Option(100)) -> None:
    """Taps not settled (exceptions: revenue loss; rejected uploads), oldest first, as JSON lines."""
    from card_service.db import configured_sessions, transaction
    from card_service.terminals.reports import exceptions, totals

    with transaction(configured_sessions()) as session:
        for row in exceptions(session, limit=limit):
            typer.echo(row.model_dump_json())
        typer.echo(json.dumps({"totals": totals(session)}))

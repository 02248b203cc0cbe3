"""``card-service audit verify``: recompute the audit trail's hash chain."""

from __future__ import annotations

import typer

audit_app = typer.Typer(help="The audit trail.", no_args_is_help=True)


@audit_app.command("verify")
def verify_cmd() -> None:
    """Check every event's hash against its predecessor; exit 1 on the first break."""
    from card_service.audit.service import verify
    from card_service.db import configured_sessions, transaction

    factory = configured_sessions()
    with transaction(factory) as session:
        report = verify(session)
    if report.ok:
        typer.echo(f"audit trail ok: {report.events} events, chain intact")
        return
    typer.echo(
        f"audit trail BROKEN at event {report.first_bad_position}: {report.problem}", err=True
    )
    raise typer.Exit(1)

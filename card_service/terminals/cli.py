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


@terminals_app.command("true-up-caps")
def true_up_caps_cmd(
    days: int = typer.Option(22, help="How many service days back to recount (late uploads)."),
) -> None:
    """Refund what holders paid past a service's daily or weekly cap (the service does this
    itself once a day; running it again refunds nothing twice)."""
    from datetime import UTC, datetime

    from card_service.db import configured_sessions, transaction
    from card_service.terminals.caps import true_up

    with transaction(configured_sessions()) as session:
        refunds = true_up(session, datetime.now(UTC), days)
    for r in refunds:
        typer.echo(f"{r.service} {r.period} purse {r.purse_account_id}: {r.amount_cents} cents")
    typer.echo(f"{len(refunds)} refunds, {sum(r.amount_cents for r in refunds)} cents")


@terminals_app.command("exceptions")
def exceptions_cmd(limit: int = typer.Option(100)) -> None:
    """Taps not settled (exceptions: revenue loss; rejected uploads), oldest first, as JSON lines."""
    from card_service.db import configured_sessions, transaction
    from card_service.terminals.reports import exceptions, totals

    with transaction(configured_sessions()) as session:
        for row in exceptions(session, limit=limit):
            typer.echo(row.model_dump_json())
        typer.echo(json.dumps({"totals": totals(session)}))


@terminals_app.command("simulate")
def simulate_cmd(
    days: int = typer.Option(1, help="Days to simulate (30 for a month)."),
    holders: int = typer.Option(2000, help="Holders with a card (seeded into the database)."),
    buses: int = typer.Option(20, help="Bus validators."),
    doors: int = typer.Option(4, help="Door readers of other services."),
    trips: float = typer.Option(1.5, help="Uses per holder per day."),
    down: float = typer.Option(0.1, help="Share of terminals down each day (they upload late)."),
    url: str = typer.Option(
        "", help="Upload over HTTP to this running service; default in-process."
    ),
    work: str = typer.Option("var/simulator", help="Folder for the validators' journals."),
    seed: int = typer.Option(1, help="Random seed: the same seed, the same city and day."),
) -> None:
    """Simulate a city's day or month of taps, settle, verify the ledger and reconcile."""
    import contextlib
    from pathlib import Path

    import httpx

    from card_service.config import get_settings
    from card_service.db import configured_sessions
    from card_service.terminals.simulate.run import in_process, progress_bar, simulate

    settings = get_settings()
    folder = Path(work)
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("terminal-*.journal*"):
        old.unlink()
    with contextlib.ExitStack() as stack:
        if url:
            factory, http, base = (
                configured_sessions(),
                stack.enter_context(httpx.Client(timeout=120)),
                url,
            )
        else:
            factory, http, base = stack.enter_context(in_process(settings))
        bar, update = progress_bar()
        with bar:
            report = simulate(
                factory, settings, folder, http=http, base_url=base, days=days, holders=holders,
                buses=buses, doors=doors, trips_per_holder=trips, down_share=down,
                seed_value=seed, progress=update,
            )  # fmt: skip
    settled = report.outcomes.get("settled", {"taps": 0})
    exceptions = report.outcomes.get("exception", {"taps": 0})
    typer.echo(f"taps made: {report.taps_made} ({report.cents_made} cents charged)")
    typer.echo(f"refused at the validators: {dict(report.refused)}")
    typer.echo(f"taps settled: {settled['taps']}, in exceptions: {exceptions['taps']}")
    typer.echo(f"money in service revenue: {report.revenue_cents} cents")
    typer.echo(f"ledger verify: {'clean' if report.verify_ok else report.problems[:5]}")
    typer.echo(f"reconciled: {report.reconciled} in {report.seconds:.1f} s")
    typer.echo(json.dumps({"taps_made": report.taps_made, "reconciled": report.reconciled,
                           "verify_ok": report.verify_ok, "outcomes": report.outcomes}))  # fmt: skip
    if not (report.reconciled and report.verify_ok):
        raise typer.Exit(1)

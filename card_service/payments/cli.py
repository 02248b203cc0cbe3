"""``card-service payments ...``: reconcile a day, run the worker once, fetch missed events."""

from __future__ import annotations

import json
import time
from datetime import date

import typer

payments_app = typer.Typer(
    help="Payments: Stripe top-ups, refunds, kiosk cash and reconciliation.",
    no_args_is_help=True,
)


@payments_app.command("reconcile")
def reconcile_cmd(
    day: str = typer.Option(..., "--date", help="The business day, YYYY-MM-DD."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as one JSON object."),
) -> None:
    """Stripe's balance transactions of a day against the ledger's clearing entries.

    Lists what matches, what is missing on either side and what differs; exits 1 when anything
    does not match (timing differences across midnight are listed, and are not an error).
    """
    from card_service.config import get_settings
    from card_service.db import configured_sessions
    from card_service.payments.reconcile import reconcile

    try:
        when = date.fromisoformat(day)
    except ValueError as exc:
        raise typer.BadParameter("a date is YYYY-MM-DD", param_hint="--date") from exc
    settings = get_settings()
    with configured_sessions(settings)() as session:
        report = reconcile(session, settings, when)
    if as_json:
        typer.echo(json.dumps(report.as_dict(), sort_keys=True))
    else:
        sections = (
            ("matched", report.matched),
            ("timing difference (matched across midnight)", report.timing),
            ("MISSING IN THE LEDGER", report.missing_in_ledger),
            ("MISSING AT STRIPE", report.missing_in_stripe),
            ("DIFFERS", report.differs),
        )
        typer.echo(f"reconciliation of {when.isoformat()} ({settings.payments_timezone})")
        for title, lines in sections:
            typer.echo(f"{title}: {len(lines)}")
            for line in lines:
                typer.echo(
                    f"  {line.source:<32} {line.kind:<12} stripe={line.stripe_cents} "
                    f"ledger={line.ledger_cents}"
                )
        typer.echo(
            f"day totals: stripe {report.stripe_total_cents}, ledger {report.ledger_total_cents}"
            f" cents; Stripe fees {report.fees_cents} cents (not in the ledger's gross amounts)"
        )
        typer.echo("clean" if report.ok else "NOT CLEAN")
    if not report.ok:
        raise typer.Exit(1)


@payments_app.command("work")
def work_cmd() -> None:
    """One round of the payments worker: stored events left unprocessed, queued auto top-ups,
    refunds Stripe did not answer."""
    from card_service.config import get_settings
    from card_service.db import configured_sessions
    from card_service.payments.worker import run_once

    settings = get_settings()
    typer.echo(json.dumps(run_once(configured_sessions(settings), settings), sort_keys=True))


@payments_app.command("fetch-events")
def fetch_events_cmd(
    hours: float = typer.Option(72, help="How far back to ask Stripe for events."),
) -> None:
    """Fetch from Stripe the events that never reached the webhook (the endpoint was down)
    and process them."""
    from card_service.config import get_settings
    from card_service.db import configured_sessions
    from card_service.payments.webhooks import fetch_missed

    settings = get_settings()
    since = int(time.time() - hours * 3600)
    done = fetch_missed(configured_sessions(settings), settings, since)
    typer.echo(f"processed {done} events that had not arrived")

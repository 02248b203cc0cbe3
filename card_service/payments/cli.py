"""Commands of this domain."""

import typer

payments_app = typer.Typer(
    help="Payments: Stripe top-ups, refunds, kiosk cash and reconciliation.",
    no_args_is_help=True,
)

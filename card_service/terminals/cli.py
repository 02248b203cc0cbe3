"""Commands of this domain."""

import typer

terminals_app = typer.Typer(
    help="Terminals: enrolment, snapshots, settlement and the simulator.",
    no_args_is_help=True,
)

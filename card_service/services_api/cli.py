"""Commands of this domain."""

import typer

services_api_app = typer.Typer(
    help="The city's services: catalogue, entitlements and service clients.",
    no_args_is_help=True,
)

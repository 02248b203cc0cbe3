"""``card-service keys``: commands for key ceremony staff."""

from __future__ import annotations

import typer

from card_service.protocol.apdu import AID, SYSTEM_ID
from card_service.protocol.diversify import diversification_input, diversify_aes128
from card_service.protocol.errors import MalformedInput

keys_app = typer.Typer(help="Key ceremony: card key diversification.", no_args_is_help=True)


def _hex(value: str, name: str, size: int | None = None) -> bytes:
    try:
        raw = bytes.fromhex(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{name} must be hexadecimal") from exc
    if size is not None and len(raw) != size:
        raise typer.BadParameter(f"{name} must be {size} bytes")
    return raw


@keys_app.command()
def diversify(
    master: str = typer.Option(..., help="AES-128 master key, 32 hex digits."),
    uid: str = typer.Option(..., help="Card UID in hex (7 bytes on our cards)."),
    aid: str = typer.Option(AID.hex().upper(), help="Application id in hex."),
    system_id: str = typer.Option(SYSTEM_ID.decode(), help="System identifier (text)."),
) -> None:
    """Print the card key diversified from MASTER as NXP AN10922 specifies (AES-128), in hex."""
    master_key = _hex(master, "--master", 16)
    try:
        m = diversification_input(_hex(uid, "--uid"), _hex(aid, "--aid"), system_id.encode())
    except MalformedInput as exc:
        raise typer.BadParameter(str(exc)) from exc
    typer.echo(diversify_aes128(master_key, m).hex().upper())

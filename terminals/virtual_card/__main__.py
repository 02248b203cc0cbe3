"""Run a virtual card against vpcd.

    python -m terminals.virtual_card new --state card.json --uid 04A1B2C3D4E5F6 --transport-master HEX
    python -m terminals.virtual_card run --state card.json [--port 35963] [--tear-file PATH]
        [--behaviour normal|foreign|garbage]

``run`` connects to vpcd (the card is "inserted" while connected) and reconnects if pcscd restarts.
Tearing: when the tear file exists at a TAP and holds "before_commit" or "after_commit", the card
deletes the file and vanishes at that point of the TAP (exit status 3), as a card pulled mid-APDU.
Stopping the process (SIGTERM) removes the card.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import time
from pathlib import Path
from types import FrameType

from terminals.virtual_card.applet import Applet, TearHook, Torn
from terminals.virtual_card.misbehaving import foreign_card, garbage_card
from terminals.virtual_card.state import CardFile, CardStore
from terminals.virtual_card.vpcd import LinkClosed, VpcdLink

TORN_EXIT = 3
DEFAULT_PORT = 35963


def _tear_hook(tear_file: Path | None) -> TearHook:
    def hook(point: str) -> None:
        if tear_file is None:
            return
        try:
            wanted = tear_file.read_text().strip()
        except FileNotFoundError:
            return
        if wanted == point:
            tear_file.unlink()
            raise Torn(point)

    return hook


def _run(args: argparse.Namespace) -> int:
    tear_file = Path(args.tear_file) if args.tear_file else None
    if args.behaviour == "normal":
        applet = Applet(CardStore(Path(args.state)), _tear_hook(tear_file))
        on_apdu, on_reset = applet.process, applet.reset
    else:
        on_apdu = foreign_card if args.behaviour == "foreign" else garbage_card
        on_reset = lambda: None  # noqa: E731
    while True:
        try:
            link = VpcdLink.connect(args.host, args.port)
        except OSError:
            time.sleep(0.02)  # pcscd (and so vpcd) not up yet; the card waits in the field
            continue
        try:
            link.serve(on_apdu, on_reset)
        except Torn:
            link.close()
            return TORN_EXIT
        except (LinkClosed, OSError):
            on_reset()
        finally:
            link.close()


def _new(args: argparse.Namespace) -> int:
    card = CardFile.blank(bytes.fromhex(args.uid), bytes.fromhex(args.transport_master))
    CardStore(Path(args.state)).save(card)
    return 0


def _stop(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m terminals.virtual_card")
    sub = parser.add_subparsers(dest="cmd", required=True)
    new = sub.add_parser("new", help="create a blank card's state file")
    new.add_argument("--state", required=True)
    new.add_argument("--uid", required=True)
    new.add_argument("--transport-master", required=True)
    run = sub.add_parser("run", help="insert the card into vpcd's reader")
    run.add_argument("--state", default="")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=DEFAULT_PORT)
    run.add_argument("--tear-file", default="")
    run.add_argument("--behaviour", choices=["normal", "foreign", "garbage"], default="normal")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _stop)
    with contextlib.suppress(KeyboardInterrupt):
        return _new(args) if args.cmd == "new" else _run(args)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())

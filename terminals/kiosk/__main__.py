"""Run the kiosk device runtime.

    python -m terminals.kiosk [--service-url http://127.0.0.1:8000] [--port 8100]
        [--reader demo|pcsc] [--keystore var/keystore.json] [--keystore-passphrase-file ...]
        [--terminal-identity var/kiosk-terminal.json]

``--reader demo`` (the default) puts the demo's virtual card on an in-process reader from the
welcome screen; ``--reader pcsc`` watches the PC/SC readers through the reader driver (pcscd).
``--terminal-identity`` is the kiosk's enrolled terminal id and signing key (the demo seed makes
and enrols it); without it the kiosk runs unsigned and refuses cash.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
from pathlib import Path
from typing import Any

from card_service.protocol.keystore import FileKeystore, MemoryKeystore


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    from terminals.kiosk.app import create_kiosk_app
    from terminals.kiosk.reader import DemoReader, PcscReader
    from terminals.kiosk.runtime import KioskConfig, KioskRuntime

    p = argparse.ArgumentParser(prog="python -m terminals.kiosk")
    p.add_argument(
        "--service-url", default=os.environ.get("KIOSK_SERVICE_URL", "http://127.0.0.1:8000")
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8100)
    p.add_argument("--reader", choices=["demo", "pcsc"], default="demo")
    p.add_argument("--reader-prefix", default="", help="use the PC/SC reader whose name starts so")
    p.add_argument("--keystore", type=Path, default=Path("var/keystore.json"))
    p.add_argument("--keystore-passphrase-file", type=Path, default=None)
    p.add_argument("--terminal-identity", type=Path, default=Path("var/kiosk-terminal.json"))
    p.add_argument("--idle-timeout", type=float, default=60.0)
    p.add_argument("--purse-limit-cents", type=int, default=150_00)
    p.add_argument("--demo-dir", type=Path, default=Path("var/demo-cards"))
    p.add_argument(
        "--desk-reader",
        choices=["demo", "pcsc", "none"],
        default="demo",
        help="serve the clerk desk at /desk with this card reader",
    )
    p.add_argument("--desk-reader-prefix", default="Virtual PCD 00 01")
    p.add_argument(
        "--stripe-js-url",
        default="https://js.stripe.com/v3/",
        help="where the card payment page loads Stripe.js (localstripe: http://HOST:PORT/js.stripe.com/v3/)",
    )
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    logging.getLogger("httpx").setLevel(logging.WARNING)

    keys = _keys(args)
    config = KioskConfig(
        service_url=args.service_url,
        idle_timeout_s=args.idle_timeout,
        purse_limit_cents=args.purse_limit_cents,
        demo_dir=args.demo_dir,
        identity_path=args.terminal_identity,
        stripe_js_url=args.stripe_js_url,
    )
    rt = KioskRuntime(config, keys)
    reader = (
        DemoReader(keys, rt) if args.reader == "demo" else PcscReader(keys, rt, args.reader_prefix)
    )
    app = create_kiosk_app(rt, reader, desk=_desk(args, keys))
    # What start-up built (imports, the app) lives as long as the process: out of the cyclic
    # collector's walks, so no full collection over it lands in the first citizen's sign-in.
    gc.collect()
    gc.freeze()
    uvicorn.run(app, host=args.host, port=args.port, timeout_graceful_shutdown=2)


def _keys(args: argparse.Namespace) -> MemoryKeystore:
    """The keystore, as card_service keeps it; the demo creates it when card_service has not
    yet (same file, same layout: master key 1 and issuing key 1, passphrase file beside it)."""
    import secrets

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    secret = args.keystore_passphrase_file or args.keystore.with_suffix(".passphrase")
    passphrase = os.environ.get("CARD_SERVICE_KEYSTORE_PASSPHRASE")
    if passphrase is None and args.reader == "demo" and not secret.exists():
        secret.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(32))
    passphrase = passphrase or secret.read_text().strip()
    store = FileKeystore(args.keystore, passphrase)
    if args.reader == "demo" and not args.keystore.exists():
        keys = MemoryKeystore()
        keys.add_master(1, secrets.token_bytes(16))
        keys.add_issuer(1, Ed25519PrivateKey.generate())
        store.save(keys)
    return store.load()


def _desk(args: argparse.Namespace, keys: MemoryKeystore) -> Any:
    """The clerk desk's pages and its reader; blank demo cards share one transport key."""
    if args.desk_reader == "none":
        return None
    from kiosk_ui.desk import desk_router
    from terminals.kiosk.desk import (
        DemoDeskReader,
        DeskClient,
        DeskStation,
        PcscDeskReader,
        with_transport,
    )

    args.demo_dir.mkdir(parents=True, exist_ok=True)
    transport_file = args.demo_dir / "transport.key"
    if not transport_file.exists():
        transport_file.write_text(os.urandom(16).hex())
    transport = bytes.fromhex(transport_file.read_text().strip())
    reader: Any = (
        DemoDeskReader(args.demo_dir, transport)
        if args.desk_reader == "demo"
        else PcscDeskReader(args.desk_reader_prefix)
    )
    station = DeskStation(DeskClient(args.service_url), with_transport(keys, transport), reader)
    return desk_router(station)


if __name__ == "__main__":
    main()

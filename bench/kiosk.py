"""Benchmark: the kiosk in a real browser (what the browser tests measure, repeated).

    .venv/bin/python bench/kiosk.py [--rounds 30]

Starts card_service and the kiosk runtime (uvicorn on loopback), its own pcscd with vpcd, a
personalised virtual card, and Debian's Chromium under Playwright. Each round: the welcome
screen, the card put on the reader, the PIN, the home screen, the card taken out. Two figures:
- card_presented_shown_ms: from the reader driver reporting the card (ReaderWatcher's handler
  starts) to the page having painted "card detected" (pushed over server-sent events);
- home_interactive_ms: from the PIN form's submit to the home screen's script running (the
  sign-in at card_service, name and balance, the redirect and the page).
The services start as their commands start them: card_service warms up (api/warm.py), and, once
everything is up, the start-up objects are frozen out of the cyclic collector's walks, as
``card-service serve`` and ``python -m terminals.kiosk`` each do (without it the first full
collection, ~200 ms over the start-up heap, lands in some early round). The first round after
the start is reported on its own (``first_round_home_ms``); the percentiles are over the
``--rounds`` rounds after it.
Needs root (pcscd) and no other pcscd running. The last line is JSON with the figures.
"""

from __future__ import annotations

import argparse
import fcntl
import gc
import json
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from card_service.migrate import upgrade  # noqa: E402
from tests.browser.stack import PIN, kiosk_stack  # noqa: E402
from tests.terminals.conftest import PCSC_LOCK  # noqa: E402
from tests.terminals.rig import Pcscd, pcscd_missing  # noqa: E402


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    missing = pcscd_missing()
    if missing:
        sys.exit(f"cannot run: {missing}")
    from playwright.sync_api import sync_playwright

    shown: list[float] = []
    home: list[float] = []
    with PCSC_LOCK.open("w") as lock, tempfile.TemporaryDirectory() as tmp:
        fcntl.flock(lock, fcntl.LOCK_EX)
        db = Path(tmp) / "db.sqlite3"
        upgrade(f"sqlite:///{db}")
        daemon = Pcscd()
        daemon.start()
        try:
            with kiosk_stack(f"sqlite:///{db}", Path(tmp), daemon) as stack, sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path="/usr/bin/chromium",
                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
                )
                page = browser.new_page()
                card = stack.card()
                # As `card-service serve` and `python -m terminals.kiosk` each do once started:
                # start-up objects frozen out of the cyclic collector's walks.
                gc.collect()
                gc.freeze()
                first: float | None = None
                for n in range(0, args.rounds + 1):
                    page.goto(stack.kiosk.url + "/kiosk/")
                    page.wait_for_function("window.kioskEvents.readyState === 1")
                    card.insert()
                    page.wait_for_url("**/kiosk/pin")
                    t = json.loads(page.evaluate("sessionStorage.getItem('cardPresented')"))
                    page.fill("#pin", PIN)
                    page.click("#pin-ok")
                    page.wait_for_url("**/kiosk/home")
                    took = float(page.evaluate("window.kioskTimings.homeInteractiveMs"))
                    print(
                        f"round {n}: shown {t['shown'] - t['reported']:.1f} ms, home {took:.0f} ms"
                    )
                    if n == 0:
                        first = took
                    else:
                        shown.append(t["shown"] - t["reported"])
                        home.append(took)
                    card.remove()
                    page.wait_for_url("**/kiosk/?ended=card_removed")
                browser.close()
        finally:
            daemon.stop()
    print(f"card presented -> shown: p50 {pct(shown, 0.5)} ms, p99 {pct(shown, 0.99)} ms")
    print(f"PIN -> home interactive: p50 {pct(home, 0.5)} ms, p99 {pct(home, 0.99)} ms")
    print(
        json.dumps(
            {
                "rounds": args.rounds,
                "card_presented_shown_ms_p50": pct(shown, 0.5),
                "card_presented_shown_ms_p99": pct(shown, 0.99),
                "card_presented_shown_ms_max": round(max(shown), 1),
                "home_interactive_ms_p50": pct(home, 0.5),
                "home_interactive_ms_p99": pct(home, 0.99),
                "home_interactive_ms_max": round(max(home), 1),
                "mean_home_ms": round(statistics.mean(home), 1),
                "first_round_home_ms": first,
            }
        )
    )


if __name__ == "__main__":
    main()

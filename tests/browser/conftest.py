"""Browser fixtures: Debian's Chromium driven by Playwright, axe-core injected for accessibility,
and the whole kiosk stack (card_service, kiosk runtime, pcscd + vpcd, a virtual card)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.stack import Stack, kiosk_stack
from tests.conftest import require
from tests.payments.conftest import localstripe  # noqa: F401  (the fixture)
from tests.payments.rig import LocalStripe
from tests.terminals.conftest import pcscd  # noqa: F401  (the fixture)
from tests.terminals.rig import Pcscd

CHROMIUM = Path("/usr/bin/chromium")
AXE = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"
SCREENS = os.environ.get("KIOSK_SCREENS_DIR")  # set to docs/screens to refresh the screenshots


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    require(CHROMIUM.exists(), "Debian's chromium is not installed (/usr/bin/chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield b
        b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1080, "height": 1400}, locale="es-ES")
    pg = context.new_page()
    pg.set_default_timeout(10_000)
    yield pg
    context.close()


@pytest.fixture
def axe() -> Callable[[Any], list[dict[str, Any]]]:
    """Run axe-core on the page; return the serious and critical violations."""
    require(AXE.exists(), "axe-core is not installed: run `npm ci` in tests/browser (make install)")
    source = AXE.read_text()

    def check(pg: Any, exclude: str | None = None) -> list[dict[str, Any]]:
        """``exclude``: a selector left out (a third party's widget: Stripe's card element)."""
        pg.add_script_tag(content=source)
        result = pg.evaluate(
            "async (exclude) => await axe.run(exclude ? {include: [['html']], exclude: "
            "[[exclude]]} : document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', "
            "'wcag21aa', 'best-practice']})",
            exclude,
        )
        return [
            {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]]}
            for v in result["violations"]
            if v["impact"] in ("serious", "critical")
        ]

    return check


@pytest.fixture
def shot() -> Callable[[Any, str], None]:
    def save(pg: Any, name: str) -> None:
        if SCREENS:
            Path(SCREENS).mkdir(parents=True, exist_ok=True)
            pg.screenshot(path=str(Path(SCREENS) / f"{name}.png"), full_page=True)

    return save


@pytest.fixture
def stack_factory(
    sqlite_url: str,
    tmp_path: Path,
    pcscd: Pcscd,  # noqa: F811
    request: pytest.FixtureRequest,
) -> Iterator[Callable[..., Stack]]:
    from contextlib import ExitStack

    with ExitStack() as es:

        def make(*, stripe: bool = False, **kiosk: Any) -> Stack:
            fake: LocalStripe | None = request.getfixturevalue("localstripe") if stripe else None
            return es.enter_context(kiosk_stack(sqlite_url, tmp_path, pcscd, fake, **kiosk))

        yield make


@pytest.fixture
def stack(stack_factory: Callable[..., Stack]) -> Stack:
    return stack_factory()

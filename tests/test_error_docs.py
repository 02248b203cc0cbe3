"""Every named error a client can receive has a heading in docs/reference/errors.md."""

import importlib
import pkgutil
from pathlib import Path

import card_service
from card_service.api.problems import DomainError
from card_service.ledger.results import LedgerError

DOC = Path(__file__).resolve().parents[1] / "docs" / "reference" / "errors.md"


def _subclasses(base: type) -> set[type]:
    out: set[type] = set()
    todo = [base]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in out:
                out.add(sub)
                todo.append(sub)
    return out


def test_every_named_error_code_has_a_heading():
    for mod in pkgutil.walk_packages(card_service.__path__, "card_service."):
        if not mod.name.endswith(("__main__",)):
            importlib.import_module(mod.name)
    codes = {
        cls.code
        for cls in _subclasses(DomainError) | _subclasses(LedgerError)
        if "code" in vars(cls)
    }
    headings = {line[3:].strip() for line in DOC.read_text().splitlines() if line.startswith("## ")}
    assert codes, "no named errors found"
    assert sorted(codes - headings) == []

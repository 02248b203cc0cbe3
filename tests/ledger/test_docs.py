"""Every named ledger result is documented for the people who will meet it."""

from pathlib import Path

from card_service.ledger.results import Result

DOC = Path(__file__).resolve().parents[2] / "docs" / "reference" / "ledger-errors.md"


def test_every_result_has_a_heading_in_ledger_errors_md():
    headings = {line[3:].strip() for line in DOC.read_text().splitlines() if line.startswith("## ")}
    assert {r.value for r in Result} == headings

"""Every named payments error has its heading in the payments section of errors.md."""

from pathlib import Path

from card_service.api.problems import DomainError
from card_service.payments import errors

DOC = Path(__file__).resolve().parents[2] / "docs" / "reference" / "errors.md"


def test_every_payments_error_is_documented_in_its_section() -> None:
    text = DOC.read_text()
    section = text.split("<!-- Payments: headings below this line. -->")[1].split(
        "<!-- end of payments -->"
    )[0]
    headings = {line[3:].strip() for line in section.splitlines() if line.startswith("## ")}
    codes = {
        cls.code
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, DomainError) and cls is not DomainError
    }
    assert codes == headings

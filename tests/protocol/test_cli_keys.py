from __future__ import annotations

from typer.testing import CliRunner

from card_service.cli import app


def test_diversify_prints_the_an10922_example_key() -> None:
    result = CliRunner().invoke(
        app,
        [
            "keys",
            "diversify",
            "--master", "00112233445566778899AABBCCDDEEFF",
            "--uid", "04782E21801D80",
            "--aid", "3042F5",
            "--system-id", "NXP Abu",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "A8DD63A3B89D54B37CA802473FDA9175"


def test_diversify_refuses_a_short_master() -> None:
    result = CliRunner().invoke(app, ["keys", "diversify", "--master", "0011", "--uid", "04"])
    assert result.exit_code == 2

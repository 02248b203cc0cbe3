"""The clerk desk in a real browser: password + TOTP, register a holder with evidence, issue a
card personalised in the desk's reader, find by card number, national id and name, block and replace,
then the new card works at the kiosk; the audit history for an auditor. axe on every screen."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from card_service.staff.roles import Role
from tests.api.support import PASSWORD, code
from tests.browser.stack import Stack
from tests.browser.test_kiosk_session import no_violations
from tests.charging.support import load_catalogue

pytestmark = pytest.mark.xdist_group("pcsc")


def desk_login(page: Any, stack: Stack, username: str, role: Role) -> None:
    stack.desk.add_staff(username, role, login=False)
    page.goto(stack.kiosk.url + "/desk/")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.fill("#totp", "000000" if code(stack.desk.secrets[username]) != "000000" else "111111")
    page.click("#login")
    assert page.locator("#error").count() == 1  # a wrong code is refused
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.fill("#totp", code(stack.desk.secrets[username]))
    page.click("#login")
    page.wait_for_selector("#desk-logout")


def test_register_issue_block_replace(stack: Stack, page: Any, axe: Any, shot: Any) -> None:
    page.goto(stack.kiosk.url + "/lang/en?next=/desk/")
    no_violations(axe, page)
    shot(page, "20-desk-login")
    desk_login(page, stack, "desk.clerk", Role.CLERK)
    no_violations(axe, page)

    page.click("#desk-new")
    page.fill("#given_names", "Xuan")
    page.fill("#surnames", "Llaneza Prendes")
    page.fill("#national_id", "00000023T")
    page.fill("#date_of_birth", "1975-05-17")
    page.fill("#street", "Calle Uría 7")
    page.fill("#postcode", "33202")
    page.fill("#doc_number", "00000023T")
    no_violations(axe, page)
    page.click("#register")
    assert page.inner_text("#message") == "Holder registered."
    assert page.inner_text("#holder-name") == "Xuan Llaneza Prendes"
    assert page.inner_text("#evidence").startswith("dni · desk.clerk")
    # No catalogue is loaded in this city: said plainly instead of an empty category list.
    assert page.inner_text("#grant-no-catalogue").startswith("No fare catalogue is in force")
    assert page.locator("#grant-category").count() == 0
    holder_id = page.inner_text("#holder-id")

    blank = stack.blank_card("04D1D2D3D4D5D6").insert()
    page.fill("#pin", "4321")
    page.click("#issue")
    message = page.inner_text("#message")
    assert message.startswith("Card ") and message.endswith(" issued and personalised.")
    number = message.split()[1]
    no_violations(axe, page)
    shot(page, "21-desk-holder")
    card_file = json.loads(blank.state.read_text())
    assert card_file["state"] == 2 and card_file["uid"] == "04d1d2d3d4d5d6"  # locked, in service

    page.click("#desk-search")
    page.fill("#card", number)
    page.click("#find-card")
    assert page.inner_text("#holder-id") == holder_id
    page.click("#desk-search")
    page.fill("#national_id", "00000023t")
    page.click("#find-nid")
    assert page.inner_text("#holder-id") == holder_id

    page.select_option(f"#reason-{number}", "lost")
    page.click(f"#block-{number}")
    assert page.inner_text("#message") == f"Card {number} blocked."
    blank.remove()
    replacement = stack.blank_card("04E1E2E3E4E5E6").insert()
    page.click(f"#replace-{number}")
    new_number = page.inner_text("#message").split()[1]
    assert new_number != number
    rows = page.locator("#cards tbody tr").all_inner_texts()
    assert any(number in r and "replaced" in r for r in rows)
    assert any(new_number in r and "active" in r for r in rows)
    replacement.remove()

    # The replacement, personalised at the desk, works at the kiosk with the old PIN.
    at_kiosk = type(replacement)(replacement.state, stack.pcscd)
    stack.cards.append(at_kiosk)
    page.goto(stack.kiosk.url + "/kiosk/")
    at_kiosk.insert()
    page.wait_for_url("**/kiosk/pin")
    page.fill("#pin", "4321")
    page.click("#pin-ok")
    page.wait_for_url("**/kiosk/home")
    assert page.inner_text("h1") == "Hello, Xuan"


def test_find_by_name(stack: Stack, page: Any, axe: Any) -> None:
    desk_login(page, stack, "desk.names", Role.CLERK)
    page.goto(stack.kiosk.url + "/lang/en?next=/desk/")
    assert page.locator("#no-match, #matches").count() == 0  # nothing searched yet
    page.fill("#name", "menendez covadonga")  # no accents, any order, any case
    page.click("#find-name")
    rows = page.locator("#matches tbody tr").all_inner_texts()
    assert len(rows) == 1, rows
    assert "Covadonga Menéndez Suárez" in rows[0] and stack.number in rows[0]
    assert "1954" in rows[0]
    no_violations(axe, page)
    page.click("#matches a.match")
    assert page.inner_text("#holder-id") == stack.holder
    page.click("#desk-search")
    page.fill("#name", "Covadonga Nadie")
    page.click("#find-name")
    assert page.locator("#no-match").count() == 1


def test_audit_history_for_an_auditor(stack: Stack, page: Any, axe: Any) -> None:
    desk_login(page, stack, "desk.auditor", Role.AUDITOR)
    page.goto(stack.kiosk.url + f"/desk/audit?target=card:{stack.number}")
    rows = page.locator("#audit tbody tr").all_inner_texts()
    assert any("card.issue" in r for r in rows), rows
    no_violations(axe, page)


def test_entitlement_grant_needs_a_second_person(stack: Stack, page: Any, axe: Any) -> None:
    load_catalogue(stack.desk.sessions())
    r = stack.desk.as_(
        "clerk", "POST", f"/v1/holders/{stack.holder}/evidence",
        json={"doc_type": "disability_certificate", "number": "AST-65-0042"},
    )  # fmt: skip
    assert r.status_code in (200, 201), r.text
    page.goto(stack.kiosk.url + "/lang/en?next=/desk/")
    desk_login(page, stack, "grant.clerk", Role.CLERK)
    page.goto(stack.kiosk.url + f"/desk/holders/{stack.holder}")
    no_violations(axe, page)
    free = [
        o.get_attribute("value")
        for o in page.locator("#grant-category option").all()
        if "free fare" in o.inner_text()
    ]
    assert free, "the catalogue in force has free-fare categories"
    page.select_option("#grant-category", free[0])
    page.fill("#grant-to", "2027-12-31")
    page.click("#grant")
    assert page.inner_text("#message").startswith("Entitlement recorded.")
    row = page.locator("#grants tbody tr").first
    assert "Waiting for a second person's approval" in row.inner_text()
    grant_id = row.get_attribute("id").removeprefix("grant-")
    no_violations(axe, page)

    page.click(f"#approve-{grant_id}")  # the granter's own approval: refused, plainly
    assert page.inner_text("#error") == (
        "You granted this yourself: a different clerk or supervisor must approve it. "
        "(grant_self_approval)"
    )
    assert "Waiting" in page.inner_text(f"#grant-{grant_id}")
    no_violations(axe, page)
    page.click("#desk-logout")

    desk_login(page, stack, "grant.supervisor", Role.SUPERVISOR)
    page.goto(stack.kiosk.url + f"/desk/holders/{stack.holder}")
    page.click(f"#approve-{grant_id}")
    assert page.inner_text("#message") == "Grant approved."
    assert "In force" in page.inner_text(f"#grant-{grant_id}")
    assert "grant.clerk / grant.supervisor" in page.inner_text(f"#grant-{grant_id}")
    page.fill(f"#revoke-reason-{grant_id}", "certificate withdrawn")
    page.click(f"#revoke-{grant_id}")
    assert page.inner_text("#message") == "Grant revoked."
    assert "Revoked" in page.inner_text(f"#grant-{grant_id}")
    no_violations(axe, page)


def test_holder_history_and_gdpr_export(stack: Stack, page: Any, axe: Any) -> None:
    page.goto(stack.kiosk.url + "/lang/en?next=/desk/")
    desk_login(page, stack, "gdpr.clerk", Role.CLERK)
    page.goto(stack.kiosk.url + f"/desk/holders/{stack.holder}")
    page.click("#holder-history")
    rows = page.locator("#audit tbody tr").all_inner_texts()
    assert "holder.history" in rows[0] and "gdpr.clerk (clerk)" in rows[0]  # this read, first
    assert any("card.issue" in r for r in rows), rows  # the holder's card's events too
    assert any("holder.read" in r and "gdpr.clerk" in r for r in rows), rows  # the page's read
    no_violations(axe, page)

    page.click("#back-holder")
    with page.expect_download() as got:
        page.click("#holder-export")
    download = got.value
    assert download.suggested_filename == f"holder-{stack.holder}.json"
    document = json.loads(Path(download.path()).read_text(encoding="utf-8"))
    assert document["holder"]["personal"]["given_names"] == "Covadonga"
    assert [c["number"] for c in document["cards"]] == [stack.number]
    assert any(e["action"] == "holder.export" for e in document["audit_trail"])  # itself audited

    page.click("#holder-history")
    top = page.locator("#audit tbody tr").all_inner_texts()[:2]
    assert "holder.history" in top[0] and "holder.export" in top[1] and "gdpr.clerk" in top[1]

"""Every outcome of a transfer is a named result; docs/reference/ledger-errors.md has one heading each."""

from __future__ import annotations

from enum import StrEnum


class Result(StrEnum):
    OK = "ok"
    # The request itself is wrong: the same request always fails the same way.
    LINKED_EVENT_FAILED = "linked_event_failed"
    LINKED_EVENT_CHAIN_OPEN = "linked_event_chain_open"
    ID_MUST_NOT_BE_ZERO = "id_must_not_be_zero"
    FLAGS_ARE_MUTUALLY_EXCLUSIVE = "flags_are_mutually_exclusive"
    RESERVED_FLAG = "reserved_flag"
    ACCOUNTS_MUST_BE_DIFFERENT = "accounts_must_be_different"
    AMOUNT_MUST_BE_POSITIVE = "amount_must_be_positive"
    CODE_MUST_NOT_BE_EMPTY = "code_must_not_be_empty"
    PENDING_ID_MUST_BE_EMPTY = "pending_id_must_be_empty"
    PENDING_ID_REQUIRED = "pending_id_required"
    PENDING_ID_MUST_BE_DIFFERENT = "pending_id_must_be_different"
    TIMEOUT_RESERVED_FOR_PENDING_TRANSFER = "timeout_reserved_for_pending_transfer"
    TIMEOUT_MUST_NOT_BE_NEGATIVE = "timeout_must_not_be_negative"
    ACCOUNTS_MUST_HAVE_THE_SAME_CURRENCY = "accounts_must_have_the_same_currency"
    # The id was used before for something else.
    EXISTS_WITH_DIFFERENT_FLAGS = "exists_with_different_flags"
    EXISTS_WITH_DIFFERENT_DEBIT_ACCOUNT_ID = "exists_with_different_debit_account_id"
    EXISTS_WITH_DIFFERENT_CREDIT_ACCOUNT_ID = "exists_with_different_credit_account_id"
    EXISTS_WITH_DIFFERENT_AMOUNT = "exists_with_different_amount"
    EXISTS_WITH_DIFFERENT_PENDING_ID = "exists_with_different_pending_id"
    EXISTS_WITH_DIFFERENT_CODE = "exists_with_different_code"
    EXISTS_WITH_DIFFERENT_USER_DATA = "exists_with_different_user_data"
    EXISTS_WITH_DIFFERENT_TIMEOUT = "exists_with_different_timeout"
    # Depends on the ledger's state.
    ACCOUNT_NOT_FOUND = "account_not_found"
    PENDING_TRANSFER_NOT_FOUND = "pending_transfer_not_found"
    PENDING_TRANSFER_NOT_PENDING = "pending_transfer_not_pending"
    PENDING_TRANSFER_HAS_DIFFERENT_DEBIT_ACCOUNT_ID = (
        "pending_transfer_has_different_debit_account_id"
    )
    PENDING_TRANSFER_HAS_DIFFERENT_CREDIT_ACCOUNT_ID = (
        "pending_transfer_has_different_credit_account_id"
    )
    PENDING_TRANSFER_HAS_DIFFERENT_AMOUNT = "pending_transfer_has_different_amount"
    EXCEEDS_PENDING_TRANSFER_AMOUNT = "exceeds_pending_transfer_amount"
    PENDING_TRANSFER_ALREADY_POSTED = "pending_transfer_already_posted"
    PENDING_TRANSFER_ALREADY_VOIDED = "pending_transfer_already_voided"
    PENDING_TRANSFER_EXPIRED = "pending_transfer_expired"
    EXCEEDS_CREDITS = "exceeds_credits"
    EXCEEDS_DEBITS = "exceeds_debits"


# Failures a later retry might otherwise turn into a success: the id is remembered as failed, so
# the retry gets the same answer and the outcome cannot flip.
STICKY_FAILURES = frozenset(
    {
        Result.ACCOUNT_NOT_FOUND,
        Result.PENDING_TRANSFER_NOT_FOUND,
        Result.EXCEEDS_CREDITS,
        Result.EXCEEDS_DEBITS,
    }
)


class LedgerError(Exception):
    """A ledger call refused as a whole; ``code`` is stable and documented."""

    code = "ledger_error"
    status = 422

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class TransferRejected(LedgerError):
    """A single transfer failed; ``code`` is its named result."""

    def __init__(self, result: Result, transfer_id: object) -> None:
        super().__init__(f"transfer {transfer_id} failed: {result.value}")
        self.code = result.value
        self.result = result
        self.status = 409


class MalformedTransfer(LedgerError):
    code = "malformed_transfer"


class AccountCodeTaken(LedgerError):
    code = "account_code_taken"
    status = 409


class UnknownAccount(LedgerError):
    code = "account_not_found"
    status = 404


class BatchTooLarge(LedgerError):
    code = "batch_too_large"
    status = 413

"""Named errors of bills and fines (docs/reference/errors.md)."""

from card_service.api.problems import DomainError


class BillNotFound(DomainError):
    """No bill or fine has this reference."""

    code = "bill_not_found"
    status = 404


class BillAlreadyPaid(DomainError):
    """The bill was paid already (by another payment): a bill is paid once only."""

    code = "bill_already_paid"
    status = 409


class BillCancelled(DomainError):
    """The issuing service cancelled the bill: there is nothing to pay."""

    code = "bill_cancelled"
    status = 409


class InsufficientBalance(DomainError):
    """The purse holds less than the bill's amount: nothing was charged."""

    code = "insufficient_balance"
    status = 409


class ReceiptNotFound(DomainError):
    """No receipt of the signed-in holder has this number."""

    code = "receipt_not_found"
    status = 404


class CardPaymentMismatch(DomainError):
    """The bank-card payment named is not this holder's payment of this bill, or Stripe reports
    another amount or currency than the bill's: nothing is settled."""

    code = "card_payment_mismatch"
    status = 409

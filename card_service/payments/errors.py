"""Named errors of payments (docs/reference/errors.md has one heading each)."""

from __future__ import annotations

from card_service.api.problems import DomainError


class PaymentsNotConfigured(DomainError):
    code = "payments_not_configured"
    status = 503


class StripeUnavailable(DomainError):
    code = "stripe_unavailable"
    status = 503


class StripeRefused(DomainError):
    code = "stripe_refused"
    status = 502


class TopUpBelowMinimum(DomainError):
    code = "topup_below_minimum"
    status = 422


class PurseLimitExceeded(DomainError):
    code = "purse_limit_exceeded"
    status = 422


class CardBlocked(DomainError):
    code = "card_blocked"
    status = 409


class TopUpNotFound(DomainError):
    code = "topup_not_found"
    status = 404


class RequestIdReused(DomainError):
    code = "request_id_reused"
    status = 409


class RefundExceedsRefundable(DomainError):
    code = "refund_exceeds_refundable"
    status = 422


class AutoTopUpNotSet(DomainError):
    code = "auto_topup_not_set"
    status = 404


class PaymentMethodInvalid(DomainError):
    code = "payment_method_invalid"
    status = 422


class WebhookUnsigned(DomainError):
    code = "webhook_unsigned"
    status = 400


class WebhookSignatureInvalid(DomainError):
    code = "webhook_signature_invalid"
    status = 400


class WebhookMalformed(DomainError):
    code = "webhook_malformed"
    status = 400


class WebhookProcessingFailed(DomainError):
    """Stored, but processing failed: Stripe retries, and the worker does too."""

    code = "webhook_processing_failed"
    status = 500


class KioskIdInvalid(DomainError):
    code = "kiosk_id_invalid"
    status = 422


class CashAmountInvalid(DomainError):
    code = "cash_amount_invalid"
    status = 422


class KioskTerminalMismatch(DomainError):
    """A signed request for kiosk cash from a terminal that is not that kiosk."""

    code = "kiosk_terminal_mismatch"
    status = 403

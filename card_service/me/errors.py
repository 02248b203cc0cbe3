"""Named errors of citizen self-service."""

from card_service.api.problems import DomainError


class DeviceKeyInvalid(DomainError):
    """The device key is not a raw Ed25519 public key (32 bytes, base64url)."""

    code = "device_key_invalid"
    status = 422


class DeviceKeyTaken(DomainError):
    """That device key is registered to another holder."""

    code = "device_key_taken"
    status = 409

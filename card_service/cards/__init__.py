"""Cards: issuance, lifecycle, replacement, PINs and the deny list."""

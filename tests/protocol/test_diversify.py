from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from card_service.protocol.aes import cmac, cmac_subkeys
from card_service.protocol.diversify import card_key, diversify_aes128
from card_service.protocol.errors import MalformedInput

MASTER = bytes.fromhex("00112233445566778899AABBCCDDEEFF")


def test_an10922_aes128_example() -> None:
    key = card_key(
        MASTER,
        bytes.fromhex("04782E21801D80"),
        bytes.fromhex("3042F5"),
        bytes.fromhex("4E585020416275"),
    )
    assert key == bytes.fromhex("A8DD63A3B89D54B37CA802473FDA9175")


def test_cmac_subkeys_match_nist_sp800_38b() -> None:
    k1, k2 = cmac_subkeys(bytes.fromhex("2B7E151628AED2A6ABF7158809CF4F3C"))
    assert k1 == bytes.fromhex("FBEED618357133667C85E08F7236A8DE")
    assert k2 == bytes.fromhex("F7DDAC306AE266CCF90BC11EE46D513B")


@given(m=st.binary(min_size=31, max_size=31), master=st.binary(min_size=16, max_size=16))
def test_unpadded_input_is_plain_cmac(m: bytes, master: bytes) -> None:
    # D = 0x01 || M is exactly 32 bytes: AN10922 then coincides with AES-CMAC.
    assert diversify_aes128(master, m) == cmac(master, b"\x01" + m)


@given(m=st.binary(min_size=1, max_size=15), master=st.binary(min_size=16, max_size=16))
def test_short_input_is_padded_to_32_bytes_not_16(m: bytes, master: bytes) -> None:
    # Plain CMAC would pad D to 16 bytes; AN10922 pads to 32, so the keys differ.
    assert diversify_aes128(master, m) != cmac(master, b"\x01" + m)


@given(m=st.binary(min_size=1, max_size=31), other=st.binary(min_size=1, max_size=31))
def test_every_allowed_length_gives_a_key_and_inputs_do_not_collide(m: bytes, other: bytes) -> None:
    key = diversify_aes128(MASTER, m)
    assert len(key) == 16
    if other != m:
        assert diversify_aes128(MASTER, other) != key


@pytest.mark.parametrize("size", [0, 32, 40])
def test_input_outside_1_to_31_bytes_is_refused(size: int) -> None:
    with pytest.raises(MalformedInput):
        diversify_aes128(MASTER, bytes(size))


def test_master_must_be_aes128() -> None:
    with pytest.raises(MalformedInput):
        diversify_aes128(bytes(24), b"\x04")

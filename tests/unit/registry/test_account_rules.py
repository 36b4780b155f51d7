"""The rules for passwords, second-factor codes and keys that the account pages apply (services/registry/web/auth.py)."""

from __future__ import annotations

import pyotp
import pytest

from services.registry.web import auth

pytestmark = pytest.mark.unit


def test_a_new_password_is_long_enough_not_the_email_address_and_typed_twice_the_same() -> None:
    email = "sam.smith@example.org"
    assert auth.new_password_problems(email, "short", "short") == {"new_password": "Password must be 12 characters or more"}
    assert (
        "email address" in auth.new_password_problems(email, "Sam.Smith@Example.org ", "Sam.Smith@Example.org ")["new_password"]
    )
    assert (
        "email address"
        in auth.new_password_problems("sam.smith.nhs.2026@example.org", "sam.smith.nhs.2026", "sam.smith.nhs.2026")[
            "new_password"
        ]
    )
    assert (
        "not the same" in auth.new_password_problems(email, "a long password here", "a long password there")["new_password_again"]
    )
    assert auth.new_password_problems(email, "a long password here", "a long password here") == {}


def test_a_code_is_six_digits() -> None:
    assert auth.code_problem("") == "Enter the 6-digit code from your authenticator app"
    for wrong in ("12345", "1234567", "12a456", "١٢٣٤٥٦"):  # the last: Arabic-Indic digits, which isdigit() accepts
        assert auth.code_problem(wrong) is not None, wrong
    assert auth.code_problem("012345") is None


def test_the_key_is_shown_in_groups_of_four_and_the_qr_code_holds_it() -> None:
    secret = pyotp.random_base32()
    assert auth.grouped(secret).replace(" ", "") == secret
    assert all(len(group) == 4 for group in auth.grouped(secret).split(" "))
    address = auth.set_up_address(secret, "sam@example.org")
    assert address.startswith("otpauth://totp/") and f"secret={secret}" in address and "sam%40example.org" in address

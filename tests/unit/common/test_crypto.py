import pytest

from services.common.crypto import UNREADABLE, Cipher, EncryptionKeyError, new_key

pytestmark = pytest.mark.unit


def test_sealed_data_holds_no_plain_text_and_opens_again():
    cipher = Cipher(new_key())
    token = cipher.seal({"email": "amira@example.org", "access_needs": ["bsl_interpreter"]})
    assert b"amira" not in token and b"bsl" not in token
    assert cipher.open(token) == {"email": "amira@example.org", "access_needs": ["bsl_interpreter"]}


def test_rotation_new_key_first_still_reads_old_data_and_rewraps_it():
    old, new = new_key(), new_key()
    token = Cipher(old).seal({"name": "Ben"})
    rotated = Cipher(f"{new},{old}")
    assert rotated.open(token) == {"name": "Ben"}
    rewrapped = rotated.rotate(token)
    assert Cipher(new).open(rewrapped) == {"name": "Ben"}


def test_wrong_or_missing_keys_give_a_plain_error():
    with pytest.raises(EncryptionKeyError, match="pairing new-key"):
        Cipher("")
    with pytest.raises(EncryptionKeyError, match="not a valid key"):
        Cipher("not-a-key")
    token = Cipher(new_key()).seal({"a": 1})
    with pytest.raises(EncryptionKeyError, match="cannot be read"):
        Cipher(new_key()).open(token)


def test_raw_bytes_are_sealed_as_they_are_and_never_look_like_plain_json():
    from services.common.crypto import is_plain_json

    cipher = Cipher(new_key())
    body = b'{"email": "amira@example.org"}'
    token = cipher.seal_bytes(body)
    assert b"amira" not in token and not is_plain_json(token) and is_plain_json(body)
    assert cipher.open_bytes(token) == body
    with pytest.raises(EncryptionKeyError, match="cannot be read"):
        Cipher(new_key()).open_bytes(token)


def test_a_keyed_digest_says_whether_a_token_holds_a_value_without_opening_it():
    cipher = Cipher(new_key())
    details = {"email": "amira@example.org", "access_needs": ["bsl_interpreter"]}
    plain = Cipher.plain(details)
    token = cipher.seal(details)
    assert cipher.open_bytes(token) == plain  # the text sealed is the text digested
    digest = cipher.digest(plain, token)
    assert "amira" not in digest and len(digest) == 64
    assert cipher.seals(plain, token, digest)
    assert not cipher.seals(Cipher.plain({**details, "email": "ben@example.org"}), token, digest), "another value"
    assert not cipher.seals(plain, cipher.seal(details), digest), "the same value sealed again: a token it was not made for"
    assert not cipher.seals(plain, token, None), "no digest kept: open it"
    assert not Cipher(new_key()).seals(plain, token, digest), "another key makes another digest"
    old, new = new_key(), new_key()
    assert Cipher(f"{new},{old}").digest(plain, token) == Cipher(new).digest(plain, token), "the first key makes it"


def test_a_token_no_key_can_read_is_refused_in_plain_words_when_rotating():
    from services.cli import explain_startup_failure

    token = Cipher(new_key()).seal_bytes(b"{}")
    with pytest.raises(EncryptionKeyError) as caught:
        Cipher(new_key()).rotate(token)
    # `pairing rekey` prints this line rather than a traceback.
    assert explain_startup_failure(caught.value) == UNREADABLE


def test_values_sealed_with_fernet_before_still_open_and_rotate_to_the_new_kind():
    from cryptography.fernet import Fernet

    from services.common.crypto import SEALED_V2

    key = new_key()
    legacy = Fernet(key.encode()).encrypt(b'{"name": "Ben"}')  # as every value was sealed before AES-GCM
    cipher = Cipher(key)
    assert cipher.open(legacy) == {"name": "Ben"}
    rotated = cipher.rotate(legacy)
    assert rotated[:1] == SEALED_V2 and cipher.open(rotated) == {"name": "Ben"}
    assert cipher.seal({"name": "Ben"})[:1] == SEALED_V2, "new values are sealed the new way"


def test_a_changed_or_cut_token_is_refused_not_misread():
    cipher = Cipher(new_key())
    token = cipher.seal_bytes(b'{"email": "amira@example.org"}')
    flipped = token[:-1] + bytes([token[-1] ^ 1])
    for broken in (flipped, token[:20], token[:1]):
        with pytest.raises(EncryptionKeyError, match="cannot be read"):
            cipher.open_bytes(broken)


def test_a_token_for_an_event_travels_as_text_and_opens_with_the_shared_key():
    from cryptography.fernet import Fernet

    shared = new_key()
    text = Cipher(shared).seal_text(b"a data key")
    assert isinstance(text, str) and text.isascii()
    assert Cipher(f"{new_key()},{shared}").open_text(text) == b"a data key"
    assert Cipher(shared).open_text(Fernet(shared.encode()).encrypt(b"a data key").decode()) == b"a data key"
    with pytest.raises(EncryptionKeyError, match="cannot be read"):
        Cipher(new_key()).open_text(text)
    with pytest.raises(EncryptionKeyError, match="cannot be read"):
        Cipher(shared).open_text("not a token at all é")

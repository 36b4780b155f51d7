"""The secrets `make run` keeps in var/secrets.json: a key at rest for each service, one shared key
for sealed events, and a file from before (one key for all three services) still opening its data."""

from __future__ import annotations

import json
import stat

import pytest

from services.common.crypto import Cipher, EncryptionKeyError, new_key
from services.launcher import SERVICES, Stack, secrets_for

pytestmark = pytest.mark.unit


def test_a_new_secrets_file_gives_each_service_its_own_key_at_rest(tmp_path):
    secrets = secrets_for(tmp_path)
    keys = [secrets[f"{service}_encryption_keys"] for service in SERVICES]
    assert len(set(keys)) == 3 and secrets["event_keys"] not in keys
    sealed = Cipher(keys[0]).seal({"name": "Ada"})
    for other in keys[1:]:
        with pytest.raises(EncryptionKeyError):
            Cipher(other).open(sealed)
    assert stat.S_IMODE((tmp_path / "secrets.json").stat().st_mode) == 0o600
    assert secrets_for(tmp_path) == secrets, "made once, then kept"

    env = Stack(tmp_path).env()
    assert [env[f"{service.upper()}_ENCRYPTION_KEYS"] for service in SERVICES] == keys
    assert env["REGISTRY_EVENT_KEYS"] == env["NOTIFIER_EVENT_KEYS"] == secrets["event_keys"]


def test_an_older_file_with_one_key_for_all_becomes_each_services_key_so_stored_data_still_opens(tmp_path):
    old = {"encryption_keys": new_key(), "event_keys": new_key(), "token_secret": new_key(), "admin_password": "kept"}
    (tmp_path / "secrets.json").write_text(json.dumps(old))
    stored = Cipher(old["encryption_keys"]).seal({"email": "ada@example.org"})

    secrets = secrets_for(tmp_path)
    for service in SERVICES:
        assert Cipher(secrets[f"{service}_encryption_keys"]).open(stored) == {"email": "ada@example.org"}
    assert {k: secrets[k] for k in old} == old, "nothing already there changes"
    assert json.loads((tmp_path / "secrets.json").read_text()) == secrets

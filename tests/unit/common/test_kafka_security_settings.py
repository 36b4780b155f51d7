"""The KAFKA_* settings for TLS and SASL/SCRAM: a wrong combination is refused with a line that names
the setting and says how to fix it, and the password only ever comes from a file."""

import ssl

import pytest
from pydantic import ValidationError

from services.cli import explain_startup_failure
from services.common.kafka_security import broker_security, client_options
from services.common.settings import KafkaSettings
from tests.kafka_tls import make_certificates

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    return make_certificates(tmp_path_factory.mktemp("certificates"))


@pytest.fixture
def password_file(tmp_path):
    path = tmp_path / "kafka-password"
    path.write_text("a long kafka password\n")
    return path


def startup_line(**settings) -> str:
    with pytest.raises(ValidationError) as caught:
        KafkaSettings(**settings)
    line = explain_startup_failure(caught.value)
    assert line is not None
    return line


def test_plain_by_default_so_the_embedded_broker_still_works():
    assert broker_security(KafkaSettings()) is None
    assert client_options(KafkaSettings(bootstrap_servers="127.0.0.1:1234")) == {"bootstrap_servers": "127.0.0.1:1234"}


def test_sasl_ssl_with_scram_reads_the_password_from_its_file(certificates, password_file):
    kafka = KafkaSettings(
        security_protocol="SASL_SSL",
        ssl_ca_file=certificates.ca_file,
        sasl_mechanism="SCRAM-SHA-256",
        sasl_username="matcher",
        sasl_password_file=password_file,
    )
    options = client_options(kafka)
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-256"
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == ("matcher", "a long kafka password")
    assert isinstance(options["ssl_context"], ssl.SSLContext)
    assert options["ssl_context"].check_hostname and options["ssl_context"].verify_mode == ssl.CERT_REQUIRED


def test_tls_with_a_client_certificate(certificates):
    kafka = KafkaSettings(
        security_protocol="SSL",
        ssl_ca_file=certificates.ca_file,
        ssl_cert_file=certificates.client_cert_file,
        ssl_key_file=certificates.client_key_file,
    )
    options = client_options(kafka)
    assert options["security_protocol"] == "SSL"
    assert "sasl_mechanism" not in options


def test_sasl_without_a_user_or_password_file_names_both():
    line = startup_line(security_protocol="SASL_SSL")
    assert "KAFKA_SASL_USERNAME is required when KAFKA_SECURITY_PROTOCOL is SASL_SSL" in line
    assert "KAFKA_SASL_PASSWORD_FILE is required" in line


def test_a_missing_password_file_is_named_with_its_path(tmp_path):
    missing = tmp_path / "nowhere"
    line = startup_line(security_protocol="SASL_PLAINTEXT", sasl_username="matcher", sasl_password_file=missing)
    assert f"KAFKA_SASL_PASSWORD_FILE names {missing}, which cannot be read or is empty" in line


def test_an_empty_password_file_is_refused(tmp_path):
    empty = tmp_path / "empty"
    empty.write_text("\n")
    assert "is empty" in startup_line(security_protocol="SASL_SSL", sasl_username="u", sasl_password_file=empty)


def test_a_password_in_the_environment_is_refused_without_repeating_it(monkeypatch):
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "do-not-print-me")
    with pytest.raises(ValidationError) as caught:
        KafkaSettings()
    line = explain_startup_failure(caught.value)
    assert "KAFKA_SASL_PASSWORD must not be set" in line and "KAFKA_SASL_PASSWORD_FILE" in line
    assert "do-not-print-me" not in line and "do-not-print-me" not in str(caught.value)


def test_plain_passwords_only_over_tls(password_file):
    line = startup_line(
        security_protocol="SASL_PLAINTEXT", sasl_mechanism="PLAIN", sasl_username="u", sasl_password_file=password_file
    )
    assert "KAFKA_SASL_MECHANISM PLAIN sends the password as it is, so it needs KAFKA_SECURITY_PROTOCOL=SASL_SSL" in line


def test_an_unknown_mechanism_lists_the_choices():
    assert "KAFKA_SASL_MECHANISM must be one of: 'SCRAM-SHA-512', 'SCRAM-SHA-256' or 'PLAIN'" in startup_line(
        sasl_mechanism="GSSAPI"
    )


def test_certificate_files_without_tls_are_refused(certificates):
    line = startup_line(ssl_ca_file=certificates.ca_file)
    assert "KAFKA_SSL_CA_FILE is set, but KAFKA_SECURITY_PROTOCOL is PLAINTEXT: set it to SSL or SASL_SSL" in line


def test_a_client_certificate_needs_its_key(certificates):
    line = startup_line(security_protocol="SSL", ssl_cert_file=certificates.client_cert_file)
    assert "KAFKA_SSL_KEY_FILE and KAFKA_SSL_CERT_FILE go together" in line


def test_an_unreadable_authority_file_is_named(tmp_path):
    line = startup_line(security_protocol="SSL", ssl_ca_file=tmp_path / "no-ca.pem")
    assert f"KAFKA_SSL_CA_FILE names {tmp_path / 'no-ca.pem'}, which cannot be read" in line


def test_a_user_without_sasl_is_refused(password_file):
    line = startup_line(sasl_username="matcher")
    assert "KAFKA_SASL_USERNAME is set, but KAFKA_SECURITY_PROTOCOL is PLAINTEXT" in line

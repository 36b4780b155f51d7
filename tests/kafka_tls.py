"""A throwaway certificate authority for the tests: it signs a certificate for the local Apache Kafka
node (127.0.0.1 and localhost) and one for a client, and writes them as PEM files the broker and the
services read; and `secured_kafka`, a node with TLS and SASL_SSL listeners. Nothing here is kept
after the session."""

from __future__ import annotations

import datetime
import ipaddress
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from services.common import apache_kafka
from services.common.apache_kafka_secure import SecureListeners
from services.common.embedded import free_port


@dataclass(frozen=True)
class Certificates:
    ca_file: Path  # the authority's certificate: what clients and the broker trust
    broker_keystore: Path  # the broker's private key and certificate chain, one PEM file
    client_cert_file: Path
    client_key_file: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name, signer, *, ca: bool = False):
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        usage = x509.KeyUsage(False, False, False, False, False, True, True, False, False)
        builder = builder.add_extension(usage, critical=True)
    else:
        names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        purposes = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        builder = builder.add_extension(x509.ExtendedKeyUsage(purposes), critical=False)
    return builder.sign(signer, hashes.SHA256())


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    # PKCS#8 without a password: the form Kafka's PEM keystore reads.
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def make_certificates(folder: Path) -> Certificates:
    """A new authority, broker certificate and client certificate, written to `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = _certificate("pairing test authority", ca_key, _name("pairing test authority"), ca_key, ca=True)
    files = Certificates(folder / "ca.pem", folder / "broker.pem", folder / "client.pem", folder / "client-key.pem")
    files.ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    broker_key = ec.generate_private_key(ec.SECP256R1())
    broker_cert = _certificate("localhost", broker_key, ca_cert.subject, ca_key)
    files.broker_keystore.write_bytes(_pem_key(broker_key) + broker_cert.public_bytes(serialization.Encoding.PEM))
    client_key = ec.generate_private_key(ec.SECP256R1())
    client_cert = _certificate("pairing-test-client", client_key, ca_cert.subject, ca_key)
    files.client_cert_file.write_bytes(client_cert.public_bytes(serialization.Encoding.PEM))
    files.client_key_file.write_bytes(_pem_key(client_key))
    return files


SCRAM_USERS = {"pairing-services": "a long password for the services"}


def secured_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredKafka]:
    """An Apache Kafka node with a TLS listener (clients show a certificate) and a SASL_SSL listener
    with the SCRAM_USERS, stopped when resumed: a module's fixture yields from it. The embedded
    broker has no TLS or SASL, so such tests always start their own node."""
    folder = tmp_path_factory.mktemp("secured-kafka")
    certificates = make_certificates(folder / "certificates")
    listeners = SecureListeners(certificates.broker_keystore, certificates.ca_file, free_port(), free_port(), SCRAM_USERS)
    try:
        node = apache_kafka.ApacheKafka.start(folder / "node", secure=listeners)
    except (apache_kafka.ApacheKafkaUnavailable, RuntimeError) as exc:
        pytest.fail(
            f"the TLS and SASL/SCRAM tests need Apache Kafka (set PAIRING_TEST_BROKER=tansu to leave them out): {exc}",
            pytrace=False,
        )
    yield SecuredKafka(node, listeners, certificates, folder)
    node.stop()


@dataclass(frozen=True)
class SecuredKafka:
    node: apache_kafka.ApacheKafka
    listeners: SecureListeners
    certificates: Certificates
    folder: Path

    def password_file(self, password: str = SCRAM_USERS["pairing-services"]) -> Path:
        """A new file holding `password` as `echo` writes it (the line end is not part of it)."""
        path = self.folder / f"password-{uuid.uuid4().hex[:6]}"
        path.write_text(password + "\n")
        return path


# Hooks for the conftest files of the tiers with such tests (integration, e2e) to import.


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "needs_apache_kafka: starts an Apache Kafka node of its own (TLS and SASL tests)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests that start their own Apache Kafka node fail when it cannot be had, unless the
    embedded broker alone was asked for: then they are left out, and the session says so."""
    from tests.conftest import say

    if os.environ.get("PAIRING_TEST_BROKER", "").lower() != "tansu":
        return
    left_out = [item for item in items if item.get_closest_marker("needs_apache_kafka")]
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = [item for item in items if item not in left_out]
        say(f"Left out {len(left_out)} TLS and SASL test(s): PAIRING_TEST_BROKER=tansu asks for the embedded broker alone")

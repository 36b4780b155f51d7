"""Secured listeners for the local Apache Kafka (services/common/apache_kafka.py), beside its plain one:

- TLS (`SSL`): encrypted, and the client shows a certificate signed by the authority given;
- SASL_SSL: encrypted, and the client signs in with a SCRAM user (SHA-256 or SHA-512) made when
  the storage is formatted.

Traffic between brokers and controllers stays plain, on loopback. The certificates come from
whoever starts the node (the tests make a throwaway authority: tests/kafka_tls.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

SCRAM_MECHANISMS = ("SCRAM-SHA-256", "SCRAM-SHA-512")


@dataclass(frozen=True)
class SecureListeners:
    keystore: Path  # PEM: the broker's private key (PKCS#8, no password) and its certificate chain
    truststore: Path  # PEM: the authority whose client certificates the TLS listener accepts
    tls_port: int
    sasl_port: int
    scram_users: dict[str, str] = field(default_factory=dict)  # name -> password, for both mechanisms

    def extend(self, properties: str) -> str:
        """A node's server.properties with the two listeners added to its plain ones."""
        added = {
            "listeners": f"SSL://127.0.0.1:{self.tls_port},SASL_SSL://127.0.0.1:{self.sasl_port}",
            "advertised.listeners": f"SSL://127.0.0.1:{self.tls_port},SASL_SSL://127.0.0.1:{self.sasl_port}",
            "listener.security.protocol.map": "SSL:SSL,SASL_SSL:SASL_SSL",
        }
        lines = [_append(line, added) for line in properties.splitlines()]
        return "\n".join(lines) + "\n" + "".join(f"{key}={value}\n" for key, value in self.settings().items())

    def settings(self) -> dict[str, str]:
        login = "org.apache.kafka.common.security.scram.ScramLoginModule required;"
        return {
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": str(self.keystore),
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(self.truststore),
            "listener.name.ssl.ssl.client.auth": "required",
            "sasl.enabled.mechanisms": ",".join(SCRAM_MECHANISMS),
            **{f"listener.name.sasl_ssl.{m.lower()}.sasl.jaas.config": login for m in SCRAM_MECHANISMS},
        }

    def format_arguments(self) -> list[str]:
        """`kafka-storage format` arguments that make the SCRAM users."""
        return [
            argument
            for name, password in self.scram_users.items()
            for mechanism in SCRAM_MECHANISMS
            for argument in ("--add-scram", f"{mechanism}=[name={name},password={password}]")
        ]


def _append(line: str, added: dict[str, str]) -> str:
    key, _, value = line.partition("=")
    return f"{key}={value},{added[key]}" if key in added else line

"""How every Kafka client of every service connects: TLS and SASL/SCRAM from the KAFKA_* settings.

`broker_security` is the one place the settings become a FastStream security object;
`client_options` gives the same as the options of a plain aiokafka producer, consumer or admin
client. `explain_refusal` turns a broker that refuses the connection into one plain line naming
the setting to fix.
"""

from __future__ import annotations

import ssl
from typing import Any

from aiokafka.conn import create_conn
from aiokafka.errors import KafkaConnectionError, SaslAuthenticationFailed
from faststream.kafka.security import parse_security
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from services.common.settings import TLS_PROTOCOLS, KafkaSettings, read_password

SASL = {"SCRAM-SHA-256": SASLScram256, "SCRAM-SHA-512": SASLScram512, "PLAIN": SASLPlaintext}


class KafkaRefused(RuntimeError):
    """The broker answered but would not let this client in: the message says which setting to fix."""


def ssl_context(kafka: KafkaSettings) -> ssl.SSLContext | None:
    """Checks the broker's certificate and name; shows the client's certificate when one is set."""
    if kafka.security_protocol not in TLS_PROTOCOLS:
        return None
    context = ssl.create_default_context(cafile=str(kafka.ssl_ca_file) if kafka.ssl_ca_file else None)
    if kafka.ssl_cert_file and kafka.ssl_key_file:
        context.load_cert_chain(str(kafka.ssl_cert_file), str(kafka.ssl_key_file))
    return context


def broker_security(kafka: KafkaSettings) -> BaseSecurity | None:
    """The FastStream broker's `security`: None on a plain connection."""
    context = ssl_context(kafka)
    if kafka.security_protocol.startswith("SASL_"):
        assert kafka.sasl_username and kafka.sasl_password_file  # the settings refuse SASL without them
        password = read_password(kafka.sasl_password_file)
        return SASL[kafka.sasl_mechanism](kafka.sasl_username, password, ssl_context=context, use_ssl=context is not None)
    return BaseSecurity(ssl_context=context) if context else None


def client_options(kafka: KafkaSettings) -> dict[str, Any]:
    """Where the broker is and how to connect, for any aiokafka client."""
    return {"bootstrap_servers": kafka.bootstrap_servers, **parse_security(broker_security(kafka))}


async def explain_refusal(kafka: KafkaSettings) -> str | None:
    """Why the first bootstrap server refuses this client, in plain words, or None when it is not a
    refusal (the broker is down or unreachable: the usual "cannot reach" message fits then)."""
    host, _, port = kafka.bootstrap_servers.split(",")[0].strip().rpartition(":")
    options = client_options(kafka)
    del options["bootstrap_servers"]
    try:
        conn = await create_conn(host, int(port), request_timeout_ms=10_000, **options)
    except SaslAuthenticationFailed:
        return (
            f"The Kafka broker refused the user name or password ({kafka.sasl_mechanism}). Check KAFKA_SASL_USERNAME, "
            "the password in the file KAFKA_SASL_PASSWORD_FILE names, and KAFKA_SASL_MECHANISM."
        )
    except ssl.SSLCertVerificationError as exc:
        return (
            f"The Kafka broker's certificate was not accepted ({exc.verify_message}). Set KAFKA_SSL_CA_FILE to the "
            "certificate of the authority that signed it, and connect by a name the certificate holds."
        )
    except ssl.SSLError as exc:
        return (
            f"The TLS connection to the Kafka broker failed ({exc.reason}). If the broker asks for a client "
            "certificate, set KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE; check KAFKA_SECURITY_PROTOCOL too."
        )
    except KafkaConnectionError:
        return _closed(kafka)
    except (TimeoutError, OSError):
        return None
    conn.close()
    return None


def _closed(kafka: KafkaSettings) -> str:
    """The broker took the connection, then dropped it: another protocol than the one set, or (over
    TLS 1.3, where the broker checks the client afterwards) a client certificate it wanted."""
    line = (
        f"The Kafka broker closed the connection: it does not accept KAFKA_SECURITY_PROTOCOL={kafka.security_protocol}. "
        "Set it to what the broker's listener expects (PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL)"
    )
    if kafka.security_protocol in TLS_PROTOCOLS and not kafka.ssl_cert_file:
        line += ", or, if it asks for a client certificate, set KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE"
    return line + "."

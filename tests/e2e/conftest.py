"""Hooks for the end-to-end tier."""

# Tests marked needs_apache_kafka start their own Apache Kafka node (tests/kafka_tls.py).
from tests.kafka_tls import pytest_collection_modifyitems, pytest_configure  # noqa: F401 - pytest's hooks, found by name

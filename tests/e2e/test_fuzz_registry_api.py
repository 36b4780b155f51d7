"""Fuzzing the registry's HTTP API from its own OpenAPI document (schemathesis),
against a running registry: no server errors and no answers outside the schema."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from services.common.embedded import free_port
from services.launcher import Stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def running_registry(new_broker, tmp_path_factory):
    stack = Stack(
        data_dir=tmp_path_factory.mktemp("fuzz"),
        http_port=free_port(),
        kafka_bootstrap=new_broker(),
        smtp_port=free_port(),
        start_smtp_sink=False,
        extra_env={"KAFKA_SESSION_TIMEOUT_MS": "2000", "KAFKA_HEARTBEAT_INTERVAL_MS": "500"},
        report=lambda _: None,
    )
    with stack:
        yield stack


@pytest.fixture(scope="module")
def admin_header(running_registry) -> dict[str, str]:
    return {"Authorization": f"Bearer {running_registry.api_token}"}


@pytest.fixture(scope="module")
def api_schema(running_registry, admin_header):
    # The description is for signed-in people only.
    return schemathesis.openapi.from_url(f"{running_registry.base_url}/openapi.json", headers=admin_header)


def test_no_server_errors_and_answers_match_the_schema(api_schema, admin_header):
    # Operations are walked here rather than with schemathesis' pytest plugin, which does not
    # support the pytest version in use; every operation still gets its generated cases.
    problems = {}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 15
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case):
            # A request can fit the schema and still break a rule the schema cannot express (an
            # email address that does not look like one, a leader who is not registered): those
            # get a clear 4xx answer, so "schema-valid request rejected" is not a failure here.
            case.call_and_validate(headers=admin_header, excluded_checks=[positive_data_acceptance])

        try:
            check()
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - collected, then reported together
            problems[operation.label] = str(exc)[:2000]
    assert not problems, "\n\n".join(f"{label}:\n{text}" for label, text in problems.items())

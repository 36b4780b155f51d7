import pytest

from services.common.apache_kafka import new_cluster_id

pytestmark = pytest.mark.unit


def test_a_new_cluster_id_never_starts_with_a_dash_which_kafka_storage_would_read_as_an_option():
    # One id in 64 would start with "-" if nothing prevented it: 5,000 ids would all but surely show one.
    ids = [new_cluster_id() for _ in range(5000)]
    assert not [cluster_id for cluster_id in ids if cluster_id.startswith("-")]
    assert {len(cluster_id) for cluster_id in ids} == {22}, "16 bytes, base64 for URLs, no padding"

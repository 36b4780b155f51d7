"""Each keyed event goes to the partition Kafka's default partitioner would choose: one person's
events stay in order, and consumers in other languages find them where they expect."""

import random

import pytest
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as aiokafka_murmur2

from services.common.partitioner import KeyPartitioner, murmur2

pytestmark = pytest.mark.unit


def keys() -> list[bytes]:
    chance = random.Random(17)
    every_length = [chance.randbytes(n) for n in range(70) for _ in range(50)]
    extreme_bytes = [bytes(chance.choice((0, 1, 127, 128, 255)) for _ in range(chance.randrange(40))) for _ in range(2000)]
    ids = [f"L-{i:06d}".encode() for i in range(3000)] + [f"ref-{chance.getrandbits(128):032x}".encode() for _ in range(3000)]
    return every_length + extreme_bytes + ids


def test_the_hash_is_kafkas_murmur2_for_keys_of_every_length():
    different = [key for key in keys() if murmur2(key) != aiokafka_murmur2(key)]
    assert not different, f"{len(different)} keys hash differently, the first {different[0]!r}"


def test_known_values_from_the_java_client():
    # Kafka's own test of Utils.murmur2 (UtilsTest.testMurmur2), as signed 32-bit integers.
    cases = {
        b"21": -973932308,
        b"foobar": -790332482,
        b"a-little-bit-long-string": -985981536,
        b"a-little-bit-longer-string": -1486304829,
    }
    for key, signed in cases.items():
        assert murmur2(key) == signed & 0xFFFFFFFF, key


@pytest.mark.parametrize("count", [1, 2, 3, 6, 10, 12])
def test_every_key_goes_to_the_default_partition_again_and_again(count):
    partitions = list(range(count))
    default, ours = DefaultPartitioner(), KeyPartitioner()
    for _ in range(2):  # the second time from the remembered hashes
        assert [ours(key, partitions, partitions) for key in keys()] == [default(key, partitions, partitions) for key in keys()]


def test_a_record_without_a_key_goes_to_an_available_partition():
    ours = KeyPartitioner()
    assert {ours(None, [0, 1, 2], [2]) for _ in range(20)} == {2}
    assert {ours(None, [0, 1, 2], []) for _ in range(50)} <= {0, 1, 2}


def test_the_remembered_hashes_stay_bounded_and_right_after_forgetting():
    # Every person's key would otherwise stay in memory for as long as the process runs.
    partitions = list(range(6))
    default, ours = DefaultPartitioner(), KeyPartitioner()
    many = [f"L-{i:06d}".encode() for i in range(KeyPartitioner.KEPT * 2 + 10)]
    for key in many:
        assert ours(key, partitions, partitions) == default(key, partitions, partitions)
        assert len(ours._hashes) <= KeyPartitioner.KEPT
    again = many[:100]  # forgotten, so hashed afresh
    assert [ours(key, partitions, partitions) for key in again] == [default(key, partitions, partitions) for key in again]

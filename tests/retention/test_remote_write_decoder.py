"""The remote-write decoder the live test relies on reads snappy and protobuf right,
and refuses what is neither."""

from __future__ import annotations

import struct

import pytest

from .remote_write import DecodeError, decode_write_request, snappy_decompress


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _literal(data: bytes) -> bytes:
    """One uncompressed snappy block: the length, then everything as literals."""
    out = bytearray(_varint(len(data)))
    for start in range(0, len(data), 60):
        chunk = data[start : start + 60]
        out.append((len(chunk) - 1) << 2)
        out += chunk
    return bytes(out)


def test_snappy_literals_and_back_references() -> None:
    # "abcd", then copy 4 bytes from 4 back (1-byte offset form).
    assert snappy_decompress(b"\x08\x0cabcd\x01\x04") == b"abcdabcd"
    # "a", then copy 5 bytes from 1 back (2-byte offset form): the copy overlaps itself.
    assert snappy_decompress(b"\x06\x00a\x12\x01\x00") == b"aaaaaa"
    # A 70-byte literal takes a length byte after the tag.
    assert snappy_decompress(b"\x46\xf0\x45" + b"x" * 70) == b"x" * 70


def test_snappy_refuses_a_reference_before_the_start() -> None:
    with pytest.raises(DecodeError):
        snappy_decompress(b"\x08\x0cabcd\x01\x09")


def test_a_write_request_gives_its_series_labels_values_and_metadata() -> None:
    label = _field(1, b"__name__") + _field(2, b"job:x:increase1h")
    job = _field(1, b"job") + _field(2, b"llm-app")
    sample = _varint(1 << 3 | 1) + struct.pack("<d", 2.5) + _varint(2 << 3) + _varint(1700)
    series = _field(1, label) + _field(1, job) + _field(2, sample)
    request = _field(1, series) + _field(3, _field(4, b"job:x:increase1h"))
    decoded = decode_write_request(_literal(request))
    (only,) = decoded.series
    assert only.name == "job:x:increase1h"
    assert only.labels == {"__name__": "job:x:increase1h", "job": "llm-app"}
    assert only.values == (2.5,)
    assert decoded.metadata_entries == 1

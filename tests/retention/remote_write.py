"""Read what Prometheus' remote write sends: a snappy-compressed protobuf WriteRequest.

Written from the two formats' specifications so that no codec library is needed:
snappy's block format (a varint length, then literals and back-references) and the
protobuf wire format of prometheus.WriteRequest (field 1: TimeSeries, each with
field 1 labels of name 1 / value 2, and field 2 samples; field 3: metadata).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass


class DecodeError(ValueError):
    """The body is not snappy-compressed protobuf."""


def _varint(data: bytes, position: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if position >= len(data):
            raise DecodeError("truncated varint")
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, position
        shift += 7


def snappy_decompress(data: bytes) -> bytes:
    """Decompress one snappy block (not the framed stream format)."""
    length, position = _varint(data, 0)
    out = bytearray()
    while position < len(data):
        tag = data[position]
        position += 1
        kind = tag & 0x03
        if kind == 0:
            size = tag >> 2
            if size >= 60:
                extra = size - 59
                size = int.from_bytes(data[position : position + extra], "little")
                position += extra
            size += 1
            out += data[position : position + size]
            position += size
            continue
        if kind == 1:
            size = 4 + ((tag >> 2) & 0x07)
            offset = ((tag >> 5) << 8) | data[position]
            position += 1
        else:
            width = 2 if kind == 2 else 4
            size = 1 + (tag >> 2)
            offset = int.from_bytes(data[position : position + width], "little")
            position += width
        if offset == 0 or offset > len(out):
            raise DecodeError(f"back-reference {offset} outside the {len(out)} bytes so far")
        for _ in range(size):  # byte by byte: a copy may overlap what it writes
            out.append(out[-offset])
    if len(out) != length:
        raise DecodeError(f"decompressed {len(out)} bytes, the header said {length}")
    return bytes(out)


def _fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    """(field number, value) of each field: an int for varint and fixed fields, bytes
    for length-delimited ones."""
    position = 0
    while position < len(data):
        key, position = _varint(data, position)
        number, wire = key >> 3, key & 0x07
        if wire == 0:
            value, position = _varint(data, position)
            yield number, value
        elif wire == 1:
            yield number, int.from_bytes(data[position : position + 8], "little")
            position += 8
        elif wire == 2:
            size, position = _varint(data, position)
            yield number, data[position : position + size]
            position += size
        elif wire == 5:
            yield number, int.from_bytes(data[position : position + 4], "little")
            position += 4
        else:
            raise DecodeError(f"unsupported wire type {wire}")


@dataclass(frozen=True)
class TimeSeries:
    labels: dict[str, str]
    values: tuple[float, ...]

    @property
    def name(self) -> str:
        return self.labels.get("__name__", "")


@dataclass(frozen=True)
class WriteRequest:
    series: tuple[TimeSeries, ...]
    metadata_entries: int


def _bytes(value: int | bytes) -> bytes:
    if not isinstance(value, bytes):
        raise DecodeError("expected a length-delimited field")
    return value


def _time_series(data: bytes) -> TimeSeries:
    labels: dict[str, str] = {}
    values: list[float] = []
    for number, value in _fields(data):
        if number == 1:
            pair = {n: _bytes(v).decode() for n, v in _fields(_bytes(value))}
            labels[pair.get(1, "")] = pair.get(2, "")
        elif number == 2:
            for field, raw in _fields(_bytes(value)):
                if field == 1 and isinstance(raw, int):
                    values.append(struct.unpack("<d", raw.to_bytes(8, "little"))[0])
    return TimeSeries(labels, tuple(values))


def decode_write_request(body: bytes) -> WriteRequest:
    message = snappy_decompress(body)
    series: list[TimeSeries] = []
    metadata = 0
    for number, value in _fields(message):
        if number == 1:
            series.append(_time_series(_bytes(value)))
        elif number == 3:
            metadata += 1
    return WriteRequest(tuple(series), metadata)

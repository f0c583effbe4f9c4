"""Open Inference Protocol tensors: JSON `data` and the binary tensor data extension
(`Inference-Header-Content-Length`: a JSON header followed by raw tensors, each input or output that
has `parameters.binary_data_size` taking that many bytes, in order). BYTES elements in binary form
are each a 4-byte little-endian length followed by the bytes."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

import numpy as np

from .errors import BadRequest

HEADER_LENGTH = "Inference-Header-Content-Length"


def split_body(body: bytes, header_length: str | None) -> tuple[bytes, bytes]:
    """(JSON header, binary section) of a request body."""
    if header_length is None:
        return body, b""
    try:
        length = int(header_length)
    except ValueError:
        raise BadRequest(f"{HEADER_LENGTH} must be an integer, not {header_length!r}") from None
    if not 0 <= length <= len(body):
        raise BadRequest(f"{HEADER_LENGTH} is {length}, but the body holds {len(body)} bytes")
    return body[:length], body[length:]


def decode_bytes_elements(raw: bytes, where: str) -> list[bytes]:
    """The elements of a binary BYTES tensor."""
    items, offset = [], 0
    while offset < len(raw):
        if offset + 4 > len(raw):
            raise BadRequest(f"{where}: binary data ends inside an element's 4-byte length")
        (size,) = struct.unpack_from("<I", raw, offset)
        offset += 4
        if offset + size > len(raw):
            raise BadRequest(f"{where}: element {len(items)} claims {size} bytes; only {len(raw) - offset} remain")
        items.append(raw[offset : offset + size])
        offset += size
    return items


def encode_bytes_elements(items: Sequence[str]) -> bytes:
    parts = []
    for item in items:
        data = item.encode()
        parts.append(struct.pack("<I", len(data)))
        parts.append(data)
    return b"".join(parts)


def flatten(data: Any, where: str) -> list[Any]:
    """Tensor data in row-major order, whether given flat or nested."""
    if not isinstance(data, list):
        raise BadRequest(f"{where}.data must be a list")
    flat: list[Any] = []
    stack = [iter(data)]
    while stack:
        for item in stack[-1]:
            if isinstance(item, list):
                stack.append(iter(item))
                break
            flat.append(item)
        else:
            stack.pop()
    return flat


def fp64_output(name: str, values: np.ndarray, shape: list[int], binary: bool) -> tuple[dict[str, Any], bytes]:
    """An FP64 output tensor: JSON (NaN as null) or binary (NaN kept)."""
    if binary:
        raw = np.ascontiguousarray(values, dtype="<f8").tobytes()
        return {"name": name, "datatype": "FP64", "shape": shape, "parameters": {"binary_data_size": len(raw)}}, raw
    flat = values.reshape(-1).tolist()
    data = [None if v != v else v for v in flat]
    return {"name": name, "datatype": "FP64", "shape": shape, "data": data}, b""


def bytes_output(name: str, items: list[str], binary: bool) -> tuple[dict[str, Any], bytes]:
    if binary:
        raw = encode_bytes_elements(items)
        return {
            "name": name, "datatype": "BYTES", "shape": [len(items)], "parameters": {"binary_data_size": len(raw)},
        }, raw  # fmt: skip
    return {"name": name, "datatype": "BYTES", "shape": [len(items)], "data": items}, b""

#!/usr/bin/env python3
"""Writes the safetensors cross-check fixture with the reference implementation.

Output (committed to the repository):
  tests/fixtures/safetensors/reference.json   names, dtypes, shapes, values,
                                              metadata, and "file_base64": the
                                              exact bytes `safetensors` wrote,
                                              base64 (standard alphabet, padded)

No .safetensors file is written: the repository tracks no binary files (and a
.safetensors file there looks like model weights to the checks).

server/safetensors/safetensors_reference_test.cc decodes "file_base64", reads
the buffer, and checks that ptune's SafetensorsWriter reproduces it byte for
byte.

Needs the `safetensors` and `numpy` packages, e.g.
  /root/.cache/ptune/refvenv/bin/python tests/tools/gen_safetensors_fixture.py

The metadata has exactly one key: the reference implementation keeps
metadata in a Rust HashMap, so with several keys their order in the header
(and so the file's bytes) varies from run to run.
"""

import base64
import json
import os
import struct
import sys

import numpy as np
import safetensors
from safetensors import TensorSpec, deserialize, serialize

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT_DIR = os.path.join(ROOT, "tests", "fixtures", "safetensors")

METADATA = {"producer": "gen_safetensors_fixture.py \"q\" \\ \n\t\x01 \u00fc\u2713"}


def bf16_bits(values):
    """Exact bfloat16 bit patterns (values must be exactly representable)."""
    f32 = np.asarray(values, dtype=np.float32)
    bits = f32.view(np.uint32)
    assert np.all(bits & 0xFFFF == 0), "value not exact in bfloat16"
    return (bits >> 16).astype(np.uint16)


def tensors():
    """(name, dtype for TensorSpec, array holding the raw data, flat values)."""
    out = []

    def add(name, array, dtype=None, values=None):
        array = np.array(array, order="C")  # (ascontiguousarray makes 0-d 1-d)
        out.append((name, dtype or array.dtype.name, array,
                    values if values is not None else array.reshape(-1).tolist()))

    add("mask", np.array([[True, False, True], [False, False, True]]))
    add("bytes.u8", np.array([0, 1, 128, 255], dtype=np.uint8))
    add("bytes.i8", np.array([-128, -1, 0, 1, 127], dtype=np.int8))
    add("shorts", np.array([[-32768, -2], [7, 32767]], dtype=np.int16))
    add("ints", np.array([-2147483648, 0, 2147483647], dtype=np.int32))
    add("longs", np.array([[-2**63, -1, 2**40 + 3, 2**63 - 1]], dtype=np.int64))
    add("half", np.array([0.5, -2.0, 65504.0, 2.0**-24], dtype=np.float16))
    bf = [1.5, -0.15625, 256.0, -2.0**100]
    add("brain", bf16_bits(bf), dtype="bfloat16", values=bf)
    add("weight", np.array([[0.1, -0.2, 3.0], [1e-30, -1e30, 0.0]], dtype=np.float32))
    add("double", np.array([0.1, -1e300], dtype=np.float64))
    add("scalar", np.array(2.5, dtype=np.float32))
    add("empty", np.zeros((0, 3), dtype=np.float32))
    add("n\u00e4me.\u00fc", np.array([7], dtype=np.uint8))
    return out


def main():
    items = tensors()
    specs = {
        name: TensorSpec(dtype=dtype, shape=list(array.shape),
                         data_ptr=array.ctypes.data, data_len=array.nbytes)
        for name, dtype, array, _ in items
    }
    data = bytes(serialize(specs, metadata=METADATA))
    assert len(data) < 4096, len(data)

    # Check what the reference wrote.
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    assert header.pop("__metadata__") == METADATA
    loaded = dict(deserialize(data))
    for name, dtype, array, _ in items:
        assert bytes(loaded[name]["data"]) == array.tobytes(), name
        assert list(loaded[name]["shape"]) == list(array.shape), name

    description = {
        "generator": "tests/tools/gen_safetensors_fixture.py",
        "safetensors_version": safetensors.__version__,
        "numpy_version": np.__version__,
        "metadata": METADATA,
        "file_size": len(data),
        "file_base64": base64.b64encode(data).decode("ascii"),
        "tensors": [
            {"name": name, "dtype": header[name]["dtype"],
             "shape": list(array.shape), "values": values}
            for name, _, array, values in items
        ],
    }
    os.makedirs(OUT_DIR, exist_ok=True)
    stale = os.path.join(OUT_DIR, "reference.safetensors")
    if os.path.exists(stale):
        os.remove(stale)  # Written by older versions of this script.
    # One tensor per line; values flattened in row-major order.
    tensor_lines = ",\n  ".join(
        json.dumps(t, ensure_ascii=False) for t in description.pop("tensors"))
    head = json.dumps(description, indent=1, ensure_ascii=False)
    with open(os.path.join(OUT_DIR, "reference.json"), "w", encoding="utf-8") as f:
        f.write(head[:-2] + ',\n "tensors": [\n  ' + tensor_lines + "\n ]\n}\n")
    print(f"wrote {len(data)} bytes, {len(items)} tensors to {OUT_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Memory stays flat whatever the file size: a 200 MB library is streamed, never held."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import tracemalloc
from pathlib import Path

from chemcore.readers import open_library

LINE = b"CC(=O)Nc1ccc(O)cc1 paracetamol\t" + b"x" * 460 + b"\n"  # ~500-byte records
CHUNK = LINE * 2048  # ~1 MB
ROOT = Path(__file__).resolve().parents[2]

_READ_IN_CHILD = """
import json, resource, sys
from chemcore.readers import open_library
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
with open_library(sys.argv[1], max_decompressed_bytes=1 << 30) as reader:
    valid = sum(1 for item in reader if item.ok)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"valid": valid, "growth_kb": after - before, "bytes": reader.summary.bytes_read}))
"""


def test_reading_200_mb_gzip_keeps_peak_rss_flat(tmp_path):
    member = gzip.compress(CHUNK, 6)
    path = tmp_path / "big.smi.gz"
    with path.open("wb") as f:
        for _ in range(200):  # concatenated gzip members: ~200 MB of text, ~1 MB on disk
            f.write(member)
    # A fresh process, so its peak RSS (ru_maxrss) reflects this read alone.
    out = subprocess.run(
        [sys.executable, "-c", _READ_IN_CHILD, str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result = json.loads(out.stdout)
    assert result["valid"] == 200 * 2048
    assert result["bytes"] == len(CHUNK) * 200
    assert result["growth_kb"] < 32 * 1024, f"peak RSS grew {result['growth_kb'] / 1024:.0f} MB reading 200 MB"


def test_python_allocations_stay_bounded_while_streaming(tmp_path):
    path = tmp_path / "plain.smi"
    with path.open("wb") as f:
        for _ in range(20):  # 20 MB, uncompressed
            f.write(CHUNK)
    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        with open_library(path) as reader:
            valid = sum(1 for item in reader if item.ok)
        peak = tracemalloc.get_traced_memory()[1] - baseline
    finally:
        tracemalloc.stop()
    assert valid == 20 * 2048
    assert peak < 4 * 1024 * 1024, f"peak Python allocation {peak / 1e6:.1f} MB while streaming 20 MB"

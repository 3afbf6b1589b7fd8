"""Reads Parquet files with pyarrow and prints, as one JSON document, each file's column
types (pyarrow's names, e.g. `timestamp[us, tz=UTC]`) and rows (values as JSON: timestamps
and dates in ISO 8601, decimals and binary as strings). The Rust tests use it to check that
another implementation reads batch-to-s3's objects exactly as written."""

import base64
import datetime
import decimal
import json
import sys

import pyarrow.parquet as pq


def plain(v):
    if isinstance(v, (datetime.datetime, datetime.date)):
        return v.isoformat()
    if isinstance(v, decimal.Decimal):
        return str(v)
    if isinstance(v, bytes):
        return base64.b64encode(v).decode()
    if isinstance(v, list):
        # pyarrow gives a map as a list of (key, value) tuples.
        return [plain(x) for x in v]
    if isinstance(v, tuple):
        return [plain(x) for x in v]
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    return v


out = []
for path in sys.argv[1:]:
    t = pq.read_table(path)
    meta = pq.ParquetFile(path).metadata
    out.append({
        "types": {f.name: str(f.type) for f in t.schema},
        "rows": [{k: plain(v) for k, v in row.items()} for row in t.to_pylist()],
        "created_by": meta.created_by,
        "format_version": meta.format_version,
    })
print(json.dumps(out))

"""Queries an Iceberg table of the Glue catalog (moto locally, endpoint from AWS_ENDPOINT_URL):
pyiceberg loads and scans it to Arrow, DuckDB runs SQL over that Arrow table. DuckDB's own
iceberg and httpfs extensions are not available offline, so DuckDB never reads S3 itself.

    .venv/bin/python scripts/demo_iceberg_query.py --database D --table T [--group-by COL]"""

import argparse
import sys

import duckdb
import pyarrow as pa
from local_catalog import glue_catalog

p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
p.add_argument("--database", required=True)
p.add_argument("--table", required=True)
p.add_argument("--group-by", help="column to count rows by (default: the first string column)")
args = p.parse_args()

catalog = glue_catalog()
table = catalog.load_table((args.database, args.table))
events = table.scan().to_arrow()  # DuckDB finds this Python variable by its name in the SQL

print(f"Iceberg table {args.database}.{args.table} at {table.metadata_location}")
snap = table.current_snapshot()
# (table.inspect.files() would count them too, but fails on a table with a uuid column)
files = snap.summary.additional_properties.get("total-data-files", "?") if snap else 0
print(f"  rows: {events.num_rows}, snapshots: {len(table.snapshots())}, data files: {files}")

col = args.group_by or next((f.name for f in events.schema
                             if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)), None)
if col is None:
    print("  (no string column to group by; pass --group-by)")
elif col not in events.column_names:
    sys.exit(f"no column {col!r}; the table has {events.column_names}")
else:
    print(f"\nRows by {col}:")
    duckdb.sql(f'SELECT "{col}", count(*) AS n FROM events GROUP BY ALL ORDER BY n DESC, 1 LIMIT 20').show()

if snap is not None:
    props = {k: v for k, v in snap.summary.additional_properties.items() if k.startswith("trickle.")}
    print(f"Latest snapshot {snap.snapshot_id} ({snap.summary.operation.value}): "
          f"{len(props)} trickle.* propert{'y' if len(props) == 1 else 'ies'}")
    for k, v in sorted(props.items()):
        print(f"  {k} = {v}")

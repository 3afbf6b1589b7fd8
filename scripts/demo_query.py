"""The end of `make demo`: copies the Parquet path's objects from the local S3 with
`aws s3 cp --recursive`, keys as they are (every key segment is at most 255 bytes, so a
local file system takes them), and queries them with DuckDB (its wheel reads Parquet and gzip
NDJSON with nothing to download)."""

import pathlib
import shutil
import subprocess
import sys

import duckdb

bucket, root = sys.argv[1], pathlib.Path(sys.argv[2])
shutil.rmtree(root, ignore_errors=True)


def fetch(prefix, suffix):
    subprocess.run(
        ["aws", "s3", "cp", "--recursive", "--only-show-errors",
         f"s3://{bucket}/{prefix}", str(root / prefix)],
        check=True,
    )
    return sorted(str(p) for p in (root / prefix).rglob(f"*{suffix}"))


parquet = fetch("parquet/", ".parquet")
if not parquet:
    sys.exit(f"no Parquet objects under s3://{bucket}/parquet/")
files = parquet
print(f"{len(files)} Parquet object(s) under s3://{bucket}/parquet/")
con = duckdb.connect()
print("\nDESCRIBE (the columns of SCHEMA, typed, plus _extra for fields it does not name):")
con.sql("DESCRIBE SELECT * FROM read_parquet($files)", params={"files": files}).show()
print("SELECT event, count(*), count(DISTINCT user), min(n), max(n) ... GROUP BY event:")
con.sql(
    "SELECT event, count(*) AS events, count(DISTINCT \"user\") AS users, "
    "min(n) AS min_n, max(n) AS max_n FROM read_parquet($files) GROUP BY event ORDER BY event",
    params={"files": files},
).show()
errors = fetch("parquet-errors/", ".ndjson.gz")
if errors:
    print("Records that are not JSON objects went to the error prefix, one line each:")
    con.sql(
        "SELECT errorCode, sequenceNumber, errorMessage FROM read_ndjson($files)",
        params={"files": errors},
    ).show()

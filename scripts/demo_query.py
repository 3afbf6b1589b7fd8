"""The end of `make demo`: fetches the Parquet path's objects from the local S3 and queries
them with DuckDB (its wheel reads Parquet and gzip NDJSON with nothing to download).

Objects are saved under short local names: a key's last segment (shard id plus two
129-digit sequence numbers) is longer than the 255 bytes a local file name may have, so
`aws s3 cp --recursive` cannot save them as they are."""

import hashlib
import pathlib
import shutil
import sys

import boto3
import duckdb

bucket, root = sys.argv[1], pathlib.Path(sys.argv[2])
shutil.rmtree(root, ignore_errors=True)
s3 = boto3.client("s3")


def fetch(prefix, suffix):
    paths = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for o in page.get("Contents", []):
            key = o["Key"]
            local = root / prefix / (hashlib.sha256(key.encode()).hexdigest()[:16] + suffix)
            local.parent.mkdir(parents=True, exist_ok=True)
            local.write_bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
            paths.append((key, str(local)))
    return paths


parquet = fetch("parquet/", ".parquet")
if not parquet:
    sys.exit(f"no Parquet objects under s3://{bucket}/parquet/")
files = [p for _, p in parquet]
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
errors = [p for _, p in fetch("parquet-errors/", ".ndjson.gz")]
if errors:
    print("Records that are not JSON objects went to the error prefix, one line each:")
    con.sql(
        "SELECT errorCode, sequenceNumber, errorMessage FROM read_ndjson($files)",
        params={"files": errors},
    ).show()

"""The Glue catalog of the local stack (moto; the endpoint from AWS_ENDPOINT_URL) as pyiceberg
loads it, for the demo's queries (demo_iceberg_query.py, demo_otel_query.py)."""

import os
import sys

from pyiceberg.catalog import load_catalog


def glue_catalog():
    url = os.environ.get("AWS_ENDPOINT_URL") or sys.exit("AWS_ENDPOINT_URL is not set (source scripts/env.sh)")
    return load_catalog("glue", **{
        "type": "glue", "glue.endpoint": url, "glue.region": "us-east-1",
        "s3.endpoint": url, "s3.region": "us-east-1", "s3.path-style-access": "true",
        "s3.access-key-id": os.environ.get("AWS_ACCESS_KEY_ID", "test"),
        "s3.secret-access-key": os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
    })

"""Queries the OpenTelemetry tables batch-to-iceberg routed the demo's exports to, in the Glue
catalog (moto locally, endpoint from AWS_ENDPOINT_URL): pyiceberg scans each table to Arrow
and DuckDB runs SQL over them (DuckDB's iceberg and httpfs extensions are not available
offline, so DuckDB never reads S3 itself).

    .venv/bin/python scripts/demo_otel_query.py --database D"""

import argparse

import duckdb
from local_catalog import glue_catalog

p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
p.add_argument("--database", required=True)
args = p.parse_args()

catalog = glue_catalog()

tables = {}
for name in ("otel_logs", "otel_traces", "otel_metrics"):
    table = catalog.load_table((args.database, name))
    tables[name] = table.scan().to_arrow()
    spec = ", ".join(str(f.transform) + f"({table.schema().find_field(f.source_id).name})"
                     for f in table.spec().fields) or "unpartitioned"
    print(f"{args.database}.{name}: {tables[name].num_rows} rows, "
          f"{len(table.snapshots())} snapshot(s), partitioned by {spec}")

otel_logs, otel_traces, otel_metrics = (tables[n] for n in ("otel_logs", "otel_traces", "otel_metrics"))
print("\nLog lines by severity and service:")
duckdb.sql("""
    SELECT service_name AS service, severity_text AS severity, count(*) AS lines,
           min(body) AS example
    FROM otel_logs GROUP BY service_name, severity_text
    ORDER BY CASE severity_text WHEN 'ERROR' THEN 0 WHEN 'WARN' THEN 1 ELSE 2 END, service_name
""").show()
print("The slowest spans, with their service:")
duckdb.sql("""
    SELECT service_name AS service, name AS span, kind, round(duration_ns / 1e6, 1) AS ms,
           trace_id
    FROM otel_traces ORDER BY duration_ns DESC LIMIT 5
""").show()
print("Metric points:")
duckdb.sql("""
    SELECT metric_name AS metric, metric_type AS type, attributes::VARCHAR AS attributes,
           coalesce(value, sum) AS value, count
    FROM otel_metrics ORDER BY metric, attributes
""").show()

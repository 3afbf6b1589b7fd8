"""Reads and pokes Apache Iceberg tables in the Glue Data Catalog (moto server locally) with
pyiceberg, for the Rust integration tests of batch-to-iceberg and for the demo.

    .venv/bin/python tests/py/iceberg_tool.py <command> --database D --table T ...

Commands: dump, create, add-column, append, orphans (see `--help` of each). The endpoint
of Glue and S3 comes from AWS_ENDPOINT_URL (scripts/env.sh); S3 is addressed path-style.
Every command prints one JSON document on stdout; on failure it prints one line on stderr
and exits 1 (2 for a usage error).

JSON values of rows: timestamps and dates and times in ISO 8601 (timestamptz with its
offset, +00:00), decimals as strings, binary and fixed as base64, uuid as its usual string,
structs as objects, lists as arrays, maps as objects (non-string keys turned into strings),
NaN and infinities as the strings "NaN", "Infinity", "-Infinity". `append` and `create`
take the same forms back."""

import argparse
import base64
import datetime
import decimal
import json
import math
import os
import sys
import uuid
from urllib.parse import urlparse

REGION = "us-east-1"


def fail(msg):
    if len(msg) > 4000:  # Arrow errors may print whole tables
        msg = msg[:4000] + " ..."
    print(f"iceberg_tool: {msg}", file=sys.stderr)
    sys.exit(1)


def endpoint():
    url = os.environ.get("AWS_ENDPOINT_URL")
    if not url:
        fail("AWS_ENDPOINT_URL is not set (source scripts/env.sh)")
    return url


def catalog():
    from pyiceberg.catalog import load_catalog

    url = endpoint()
    key = os.environ.get("AWS_ACCESS_KEY_ID", "test")
    secret = os.environ.get("AWS_SECRET_ACCESS_KEY", "test")
    return load_catalog("glue", **{
        "type": "glue",
        "glue.endpoint": url,
        "glue.region": REGION,
        "glue.access-key-id": key,
        "glue.secret-access-key": secret,
        "s3.endpoint": url,
        "s3.region": REGION,
        "s3.path-style-access": "true",
        "s3.access-key-id": key,
        "s3.secret-access-key": secret,
    })


def load(args):
    location = getattr(args, "metadata_location", None)
    if location:
        # A table whose pointer is not in Glue (S3 Tables): read from its metadata file.
        from pyiceberg.table import StaticTable

        url = endpoint()
        return StaticTable.from_metadata(location, properties={
            "s3.endpoint": url,
            "s3.region": REGION,
            "s3.path-style-access": "true",
            "s3.access-key-id": os.environ.get("AWS_ACCESS_KEY_ID", "test"),
            "s3.secret-access-key": os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
        })
    return catalog().load_table((args.database, args.table))


# ---------- values: Arrow/Python -> JSON ----------

def plain(v):
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):
        if math.isnan(v):
            return "NaN"
        if math.isinf(v):
            return "Infinity" if v > 0 else "-Infinity"
        return v
    if isinstance(v, (datetime.datetime, datetime.date, datetime.time)):
        return v.isoformat()
    if isinstance(v, decimal.Decimal):
        return str(v)
    if isinstance(v, uuid.UUID):
        return str(v)
    if isinstance(v, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(v)).decode()
    if isinstance(v, dict):
        return {(k if isinstance(k, str) else json.dumps(plain(k))): plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    return str(v)


# ---------- values: JSON -> Python for pyarrow, by Iceberg type ----------

def from_json(v, t):
    from pyiceberg import types as it

    if v is None:
        return None
    if isinstance(t, it.StructType):
        return {f.name: from_json(v.get(f.name), f.field_type) for f in t.fields}
    if isinstance(t, it.ListType):
        return [from_json(x, t.element_type) for x in v]
    if isinstance(t, it.MapType):
        items = v.items() if isinstance(v, dict) else v
        return [(from_json(k, t.key_type), from_json(x, t.value_type)) for k, x in items]
    if isinstance(t, (it.TimestampType, it.TimestamptzType, it.TimestampNanoType, it.TimestamptzNanoType)):
        if isinstance(v, str):
            d = datetime.datetime.fromisoformat(v)
            if isinstance(t, (it.TimestamptzType, it.TimestamptzNanoType)) and d.tzinfo is None:
                d = d.replace(tzinfo=datetime.timezone.utc)
            return d
        return v
    if isinstance(t, it.DateType):
        return datetime.date.fromisoformat(v) if isinstance(v, str) else v
    if isinstance(t, it.TimeType):
        return datetime.time.fromisoformat(v) if isinstance(v, str) else v
    if isinstance(t, it.DecimalType):
        return decimal.Decimal(str(v))
    if isinstance(t, (it.BinaryType, it.FixedType)):
        return base64.b64decode(v) if isinstance(v, str) else bytes(v)
    if isinstance(t, it.UUIDType):
        return uuid.UUID(v).bytes if isinstance(v, str) else v
    if isinstance(t, (it.FloatType, it.DoubleType)) and isinstance(v, str):
        return float(v)
    if isinstance(t, (it.IntegerType, it.LongType)) and isinstance(v, str):
        return int(v)
    return v


# ---------- types from JSON ----------

def parse_type(spec, ids):
    """A type from JSON: a pyiceberg type string ("string", "long", "timestamptz",
    "decimal(10,2)", "fixed[16]", ...) or {"type":"struct","fields":[{"name","type"[,"required"]}]},
    {"type":"list","element":T[,"element_required"]}, {"type":"map","key":T,"value":T[,"value_required"]}.
    `ids` hands out field ids (pyiceberg assigns fresh ones when it creates or evolves)."""
    from pyiceberg import types as it

    if isinstance(spec, str):
        try:
            return it.IcebergType.model_validate(spec)
        except Exception:
            raise ValueError(f"unknown type {spec!r}") from None
    if not isinstance(spec, dict) or "type" not in spec:
        raise ValueError(f"bad type {spec!r}")
    kind = spec["type"]
    if kind == "struct":
        return it.StructType(*parse_fields(spec["fields"], ids))
    if kind == "list":
        return it.ListType(element_id=next(ids), element_type=parse_type(spec["element"], ids),
                           element_required=bool(spec.get("element_required", False)))
    if kind == "map":
        kid, vid = next(ids), next(ids)
        return it.MapType(key_id=kid, key_type=parse_type(spec["key"], ids), value_id=vid,
                          value_type=parse_type(spec["value"], ids),
                          value_required=bool(spec.get("value_required", False)))
    raise ValueError(f"unknown type {kind!r}")


def parse_fields(specs, ids):
    from pyiceberg.types import NestedField

    out = []
    for f in specs:
        fid = next(ids)
        out.append(NestedField(field_id=fid, name=f["name"], field_type=parse_type(f["type"], ids),
                               required=bool(f.get("required", False)), doc=f.get("doc")))
    return out


def counter():
    n = 0
    while True:
        n += 1
        yield n


def schema_json(schema):
    return [{"id": f.field_id, "name": f.name, "type": str(f.field_type), "required": f.required}
            for f in schema.fields]


def spec_json(spec, schema):
    return [{"source": schema.find_column_name(f.source_id), "source_id": f.source_id,
             "field_id": f.field_id, "transform": str(f.transform), "name": f.name}
            for f in spec.fields]


def json_arg(text):
    """A JSON argument, or @path to read it from a file, or - for stdin (one argument may
    hold at most 128 KiB on Linux)."""
    if text == "-":
        text = sys.stdin.read()
    elif text.startswith("@"):
        with open(text[1:], encoding="utf-8") as f:
            text = f.read()
    return json.loads(text)


def key_value(pairs):
    out = {}
    for p in pairs or []:
        if "=" not in p:
            raise ValueError(f"--property wants k=v, got {p!r}")
        k, v = p.split("=", 1)
        out[k] = v
    return out


# ---------- manifests ----------

def live_files(table, snapshot):
    """(manifest, entry) of every live data or delete file of a snapshot."""
    io = table.io
    for m in snapshot.manifests(io):
        for e in m.fetch_manifest_entry(io, discard_deleted=True):
            yield m, e


def partition_json(table, spec_id, record):
    """Partition values as stored (hour/day/month/year as counts since 1970, bucket as
    its number) and the Hive-style path pyiceberg would write them under."""
    spec = table.specs()[spec_id]
    values = {f.name: plain(record[i]) for i, f in enumerate(spec.fields)}
    return values, spec.partition_to_path(record, table.schema()) if spec.fields else ""


# ---------- commands ----------

def cmd_dump(args):
    t = load(args)
    md = t.metadata
    scan = t.scan(selected_fields=tuple(args.columns.split(",")) if args.columns else ("*",))
    arrow = scan.to_arrow()
    if args.sort_by:
        keys = args.sort_by.split(",")
        if set(keys) - set(arrow.column_names):
            raise ValueError(f"--sort-by {sorted(set(keys) - set(arrow.column_names))}: not among the columns read")
        arrow = arrow.sort_by([(c, "ascending") for c in keys])
    rows = arrow.to_pylist(maps_as_pydicts="lossy")
    snaps = sorted(md.snapshots, key=lambda s: (s.sequence_number or 0, s.timestamp_ms))
    cur = t.current_snapshot()
    files = []
    if cur is not None:
        for m, e in live_files(t, cur):
            df = e.data_file
            partition, partition_path = partition_json(t, m.partition_spec_id, df.partition)
            files.append({
                "path": df.file_path,
                "content": df.content.name.lower(),
                "file_format": str(df.file_format.value if hasattr(df.file_format, "value") else df.file_format),
                "record_count": df.record_count,
                "file_size_in_bytes": df.file_size_in_bytes,
                "partition": partition,
                "partition_path": partition_path,
                "spec_id": m.partition_spec_id,
                "snapshot_id": e.snapshot_id,
            })
    return {
        "rows": [plain(r) for r in rows],
        "row_count": len(rows),
        "schema": schema_json(t.schema()),
        "schema_id": t.schema().schema_id,
        "partition_spec": spec_json(t.spec(), t.schema()),
        "snapshots": [{
            "snapshot_id": s.snapshot_id,
            "parent_id": s.parent_snapshot_id,
            "sequence_number": s.sequence_number,
            "timestamp_ms": s.timestamp_ms,
            "operation": s.summary.operation.value if s.summary else None,
            "summary": s.summary.model_dump() if s.summary else {},
        } for s in snaps],
        "current_snapshot_id": cur.snapshot_id if cur else None,
        "data_files": files,
        "format_version": md.format_version,
        "properties": dict(md.properties),
        "location": md.location,
        "metadata_location": t.metadata_location,
    }


def partition_spec(schema, partition):
    """[{"source","transform"[,"name"]}] as a PartitionSpec; default names as pyiceberg's
    update_spec gives them (ts_hour, ts_day, stream, n_bucket_16, s_trunc_4, ...)."""
    from pyiceberg.partitioning import PartitionField, PartitionSpec
    from pyiceberg.transforms import (BucketTransform, IdentityTransform, TruncateTransform, UnknownTransform,
                                      VoidTransform, parse_transform)

    fields = []
    for i, p in enumerate(partition):
        src = schema.find_field(p["source"])
        tr = parse_transform(p.get("transform", "identity"))
        if isinstance(tr, UnknownTransform):
            raise ValueError(f"unknown transform {p.get('transform')!r}")
        if isinstance(tr, IdentityTransform):
            name = src.name
        elif isinstance(tr, BucketTransform):
            name = f"{src.name}_bucket_{tr.num_buckets}"
        elif isinstance(tr, TruncateTransform):
            name = f"{src.name}_trunc_{tr.width}"
        elif isinstance(tr, VoidTransform):
            name = f"{src.name}_null"
        else:
            name = f"{src.name}_{tr}"
        fields.append(PartitionField(source_id=src.field_id, field_id=1000 + i, transform=tr, name=p.get("name") or name))
    return PartitionSpec(*fields)


def cmd_create(args):
    from pyiceberg.schema import Schema

    cat = catalog()
    schema = Schema(*parse_fields(json_arg(args.schema), counter()))
    spec = partition_spec(schema, json_arg(args.partition) if args.partition else [])
    cat.create_namespace_if_not_exists(args.database)
    props = {"format-version": str(args.format_version), **key_value(args.property)}
    t = cat.create_table((args.database, args.table), schema=schema, partition_spec=spec,
                         location=args.location.rstrip("/"), properties=props)
    return {"metadata_location": t.metadata_location, "schema": schema_json(t.schema()),
            "partition_spec": spec_json(t.spec(), t.schema())}


def cmd_add_column(args):
    t = load(args)
    try:
        typ = parse_type(json.loads(args.type), counter())
    except json.JSONDecodeError:
        typ = parse_type(args.type, counter())
    with t.update_schema() as u:
        u.add_column(args.name, typ, doc=args.doc)
    t = load(args)
    return {"schema": schema_json(t.schema()), "schema_id": t.schema().schema_id,
            "metadata_location": t.metadata_location}


def cmd_append(args):
    import pyarrow as pa

    t = load(args)
    rows = json_arg(args.rows)
    if not isinstance(rows, list):
        raise ValueError("--rows wants a JSON array of objects")
    schema = t.schema()
    unknown = sorted({k for r in rows for k in r} - {f.name for f in schema.fields})
    if unknown:
        raise ValueError(f"rows have columns the table does not: {unknown}")
    conv = [{f.name: from_json(r.get(f.name), f.field_type) for f in schema.fields} for r in rows]
    data = pa.Table.from_pylist(conv, schema=schema.as_arrow())
    t.append(data, snapshot_properties=key_value(args.property))
    t = load(args)
    return {"snapshot_id": t.current_snapshot().snapshot_id, "metadata_location": t.metadata_location}


def s3_key(uri, bucket):
    u = urlparse(uri)
    if u.scheme not in ("s3", "s3a", "s3n") or u.netloc != bucket:
        return None
    return u.path.lstrip("/")


def cmd_orphans(args):
    import boto3
    from botocore.config import Config

    t = load(args)
    md, io = t.metadata, t.io
    refs = {t.metadata_location}
    refs.update(e.metadata_file for e in md.metadata_log)
    refs.update(s.statistics_path for s in (md.statistics or []))
    refs.update(s.statistics_path for s in (getattr(md, "partition_statistics", None) or []))
    for snap in md.snapshots:
        refs.add(snap.manifest_list)
        for m in snap.manifests(io):
            refs.add(m.manifest_path)
            for e in m.fetch_manifest_entry(io, discard_deleted=True):
                refs.add(e.data_file.file_path)
    ref_keys = {k for k in (s3_key(r, args.bucket) for r in refs) if k is not None}
    prefix = s3_key(md.location, args.bucket)
    if prefix is None:
        raise ValueError(f"table location {md.location} is not in bucket {args.bucket}")
    prefix = prefix.rstrip("/") + "/"
    s3 = boto3.client("s3", endpoint_url=endpoint(), region_name=REGION,
                      config=Config(s3={"addressing_style": "path"}))
    listed = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=args.bucket, Prefix=prefix):
        listed.extend(o["Key"] for o in page.get("Contents", []))
    present = set(listed)
    return {
        "orphans": sorted(k for k in listed if k not in ref_keys),
        "referenced": len(ref_keys),
        "listed": len(listed),
        "missing": sorted(k for k in ref_keys if k not in present),
        "prefix": prefix,
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)

    def table_cmd(name, fn, help):
        c = sub.add_parser(name, help=help, description=help)
        c.add_argument("--database", required=True)
        c.add_argument("--table", required=True)
        c.set_defaults(fn=fn)
        return c

    c = table_cmd("dump", cmd_dump, "the table's rows, schema, partition spec, snapshots and current files")
    c.add_argument("--columns", help="comma-separated columns to read (default: all)")
    c.add_argument("--sort-by", help="comma-separated columns to sort the rows by (default: scan order)")
    c.add_argument("--metadata-location", help="read this metadata file instead of the Glue table's (S3 Tables)")
    c = table_cmd("create", cmd_create, "create a table (and the Glue database if missing)")
    c.add_argument("--location", required=True, help="s3://bucket/prefix")
    c.add_argument("--schema", required=True, help='JSON (or @file, -): [{"name":"ts","type":"timestamptz"},...]')
    c.add_argument("--partition", default="[]", help='JSON (or @file, -): [{"source":"ts","transform":"hour"},...]')
    c.add_argument("--format-version", type=int, default=2, choices=(1, 2))
    c.add_argument("--property", action="append", metavar="K=V", help="table property (repeatable)")
    c = table_cmd("add-column", cmd_add_column, "add an optional column (schema evolution)")
    c.add_argument("--name", required=True)
    c.add_argument("--type", required=True, help='a type string ("long") or a JSON nested type')
    c.add_argument("--doc")
    c = table_cmd("append", cmd_append, "append rows as another writer")
    c.add_argument("--rows", required=True, help='JSON (or @file, -): [{"col": value, ...}, ...]')
    c.add_argument("--property", action="append", metavar="K=V", help="snapshot summary property (repeatable)")
    c = table_cmd("orphans", cmd_orphans, "objects under the table location no live snapshot or metadata references")
    c.add_argument("--bucket", required=True)
    args = p.parse_args()
    try:
        out = args.fn(args)
    except SystemExit:
        raise
    except Exception as e:
        fail(f"{args.cmd} {args.database}.{args.table}: {type(e).__name__}: {e}")
    json.dump(out, sys.stdout, allow_nan=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()

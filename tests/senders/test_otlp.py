"""The real OpenTelemetry Python SDK exports logs, traces and metrics with its OTLP/HTTP
exporters (protobuf; no compression, gzip and deflate) through the local function URL;
each log record, span and data point lands as one flat row in the stream, and OTLP JSON
bodies (the opentelemetry-proto examples, events/otlp/) do too.
"""

import gzip
import json
import logging
import pathlib

import pytest
import requests
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind

ROOT = pathlib.Path(__file__).resolve().parents[2]
RESOURCE = Resource.create({"service.name": "checkout", "deployment.environment": "test"})
COMPRESSIONS = [Compression.NoCompression, Compression.Gzip, Compression.Deflate]


def rows(stream):
    return [(r["PartitionKey"], json.loads(r["Data"])) for r in stream.records()]


@pytest.mark.parametrize("compression", COMPRESSIONS, ids=lambda c: c.value)
def test_sdk_logs_are_one_row_per_log_record(front, stream, compression):
    provider = LoggerProvider(resource=RESOURCE)
    provider.add_log_record_processor(SimpleLogRecordProcessor(
        OTLPLogExporter(endpoint=f"{front}v1/logs", compression=compression)))
    log = logging.getLogger(f"trickle.test.{compression.value}")
    log.propagate = False
    log.setLevel(logging.INFO)
    handler = LoggingHandler(logger_provider=provider)
    log.addHandler(handler)
    try:
        for i in range(5):
            log.warning("payment %d declined", i, extra={"order.id": i})
        assert provider.force_flush()
    finally:
        log.removeHandler(handler)
        provider.shutdown()
    got = [row for _, row in rows(stream)]
    assert len(got) == 5, got
    for row in got:
        assert row["signal"] == "logs"
        assert row["service_name"] == "checkout"
        assert row["severity_text"] == "WARN" or row["severity_text"].startswith("WARN")
        assert row["body"].startswith("payment ") and row["body"].endswith(" declined")
        assert row["resource_attributes"]["deployment.environment"] == "test"
        assert row["attributes"]["order.id"].isdigit()
        assert row["timestamp"].endswith("Z")


@pytest.mark.parametrize("compression", COMPRESSIONS, ids=lambda c: c.value)
def test_sdk_spans_are_one_row_per_span_keyed_by_trace(front, stream, compression):
    provider = TracerProvider(resource=RESOURCE)
    provider.add_span_processor(SimpleSpanProcessor(
        OTLPSpanExporter(endpoint=f"{front}v1/traces", compression=compression)))
    tracer = provider.get_tracer("trickle.test", "1.2.3")
    with tracer.start_as_current_span("checkout", kind=SpanKind.SERVER) as parent:
        parent.set_attribute("http.route", "/pay")
        with tracer.start_as_current_span("charge-card") as child:
            child.add_event("retry", {"attempt": 2})
    provider.force_flush()
    provider.shutdown()
    got = rows(stream)
    assert len(got) == 2, got
    by_name = {row["name"]: (key, row) for key, row in got}
    key, server = by_name["checkout"]
    assert server["kind"] == "Server" and server["signal"] == "traces"
    assert server["attributes"] == {"http.route": "/pay"}
    assert server["scope_name"] == "trickle.test" and server["scope_version"] == "1.2.3"
    assert key == server["trace_id"], "a span's partition key is its trace id"
    _, child = by_name["charge-card"]
    assert child["parent_span_id"] == server["span_id"]
    assert child["trace_id"] == server["trace_id"]
    assert child["events"][0]["name"] == "retry"
    assert child["events"][0]["attributes"] == {"attempt": "2"}
    assert child["duration_ns"] >= 0


def test_sdk_metrics_are_one_row_per_data_point(front, stream):
    exporter = OTLPMetricExporter(endpoint=f"{front}v1/metrics", compression=Compression.Gzip)
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    provider = MeterProvider(resource=RESOURCE, metric_readers=[reader])
    meter = provider.get_meter("trickle.test")
    orders = meter.create_counter("orders", unit="1", description="orders placed")
    latency = meter.create_histogram("latency", unit="ms")
    orders.add(3, {"region": "eu"})
    orders.add(4, {"region": "us"})
    latency.record(12.5, {"region": "eu"})
    assert provider.force_flush()
    # Read before shutdown: shutdown exports the (cumulative) points once more.
    got = [row for _, row in rows(stream)]
    provider.shutdown()
    sums = sorted((r for r in got if r["metric_type"] == "sum"), key=lambda r: r["attributes"]["region"])
    assert [(r["metric_name"], r["attributes"]["region"], r["value"]) for r in sums] == [
        ("orders", "eu", 3), ("orders", "us", 4)]
    assert sums[0]["is_monotonic"] is True
    assert sums[0]["aggregation_temporality"] == "Cumulative"
    (hist,) = [r for r in got if r["metric_type"] == "histogram"]
    assert hist["count"] == 1 and hist["sum"] == 12.5 and hist["metric_unit"] == "ms"
    assert sum(hist["bucket_counts"]) == 1


@pytest.mark.parametrize("signal,example", [
    ("logs", "logs.json"), ("traces", "trace.json"), ("metrics", "metrics.json")])
def test_otlp_json_examples_are_rows(front, stream, signal, example):
    body = (ROOT / "events" / "otlp" / example).read_bytes()
    r = requests.post(f"{front}v1/{signal}", data=gzip.compress(body), timeout=30,
                      headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
    assert r.status_code == 200, r.text
    assert r.json() == {}
    got = [row for _, row in rows(stream)]
    assert got and all(row["signal"] == signal for row in got)


def test_a_body_that_is_not_otlp_is_a_400_status(front, stream):
    r = requests.post(f"{front}v1/traces", data=b"\xff\xff", timeout=30,
                      headers={"Content-Type": "application/x-protobuf"})
    assert r.status_code == 400
    assert r.headers["Content-Type"] == "application/x-protobuf"
    assert stream.records() == []

"""Sends a fixed set of OpenTelemetry logs, spans and metric points with the real
OpenTelemetry Python SDK and its OTLP/HTTP protobuf exporters: two services (checkout and
payments), log records at INFO, WARN and ERROR, traces of a server span with client
children of known durations, a counter and a histogram.

    .venv/bin/python scripts/otel_send.py URL [--token T]   # export to URL/v1/{logs,traces,metrics}
    .venv/bin/python scripts/otel_send.py --capture         # export to a local capture server

Prints one JSON document: `sent`, what each item is (service, severity and body of each log
record; service, name, ids and duration of each span; name and value of each metric), and,
with --capture, `exports`: each export as the SDK sent it (path, content type and encoding,
body in base64), for a test to put through ingest itself. Used by `make demo` and by
tests/tests/iceberg_routing.rs."""

import argparse
import base64
import http.server
import json
import logging
import sys
import threading

from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind

SERVICES = ("checkout", "payments")
# (service, level, message): 12 log records.
LOGS = [(SERVICES[i % 2], level, f"order {i} {word}")
        for i, (level, word) in enumerate(
            [(logging.INFO, "placed"), (logging.INFO, "paid"), (logging.WARNING, "retried"),
             (logging.ERROR, "declined")] * 3)]
# (service, root span, [(child span, duration ms)]): 4 traces, 12 spans.
TRACES = [
    ("checkout", "POST /checkout", [("reserve-stock", 40), ("charge-card", 900)]),
    ("checkout", "POST /checkout", [("reserve-stock", 35), ("charge-card", 1400)]),
    ("payments", "POST /charge", [("fraud-check", 250), ("card-network", 2100)]),
    ("payments", "POST /refund", [("ledger-write", 60), ("card-network", 700)]),
]
SEVERITY = {logging.INFO: "INFO", logging.WARNING: "WARN", logging.ERROR: "ERROR"}
T0_NS = 1_764_849_600_000_000_000  # 2025-12-04T12:00:00Z


class Capture(http.server.BaseHTTPRequestHandler):
    """Keeps each POST as the SDK sent it and answers an empty OTLP success."""
    exports = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        Capture.exports.append({
            "path": self.path,
            "content_type": self.headers.get("Content-Type"),
            "content_encoding": self.headers.get("Content-Encoding"),
            "body": base64.b64encode(body).decode(),
        })
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def resource(service):
    return Resource.create({"service.name": service, "deployment.environment": "demo"})


def send_logs(endpoint, headers, compression):
    sent = []
    for service in SERVICES:
        provider = LoggerProvider(resource=resource(service))
        provider.add_log_record_processor(BatchLogRecordProcessor(
            OTLPLogExporter(endpoint=f"{endpoint}/v1/logs", headers=headers,
                            compression=compression)))
        log = logging.getLogger(f"trickle.demo.{service}")
        log.propagate = False
        log.setLevel(logging.INFO)
        handler = LoggingHandler(logger_provider=provider)
        log.addHandler(handler)
        for i, (owner, level, message) in enumerate(LOGS):
            if owner == service:
                log.log(level, message, extra={"order.id": str(i)})
                sent.append({"service_name": service, "severity_text": SEVERITY[level],
                             "body": message, "attributes": {"order.id": str(i)}})
        ok = provider.force_flush()
        log.removeHandler(handler)
        provider.shutdown()
        if not ok:
            sys.exit(f"otel_send: the log export of {service} did not finish")
    return sent


def send_spans(endpoint, headers, compression):
    sent = []
    for service in SERVICES:
        provider = TracerProvider(resource=resource(service))
        provider.add_span_processor(BatchSpanProcessor(
            OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces", headers=headers,
                             compression=compression)))
        tracer = provider.get_tracer("trickle.demo", "1.0.0")
        for t, (owner, root_name, children) in enumerate(TRACES):
            if owner != service:
                continue
            start = T0_NS + t * 10_000_000_000
            total = sum(ms for _, ms in children) * 1_000_000 + 5_000_000
            root = tracer.start_span(root_name, kind=SpanKind.SERVER, start_time=start)
            root.set_attribute("http.route", root_name.split(" ", 1)[1])
            context = root.get_span_context()
            from opentelemetry import trace
            parent = trace.set_span_in_context(root)
            at = start + 1_000_000
            for name, ms in children:
                child = tracer.start_span(name, context=parent, kind=SpanKind.CLIENT,
                                          start_time=at)
                child.end(end_time=at + ms * 1_000_000)
                sent.append({"service_name": service, "name": name,
                             "trace_id": format(context.trace_id, "032x"),
                             "span_id": format(child.get_span_context().span_id, "016x"),
                             "parent_span_id": format(context.span_id, "016x"),
                             "duration_ns": ms * 1_000_000})
                at += ms * 1_000_000
            root.end(end_time=start + total)
            sent.append({"service_name": service, "name": root_name,
                         "trace_id": format(context.trace_id, "032x"),
                         "span_id": format(context.span_id, "016x"),
                         "parent_span_id": None, "duration_ns": total})
        ok = provider.force_flush()
        provider.shutdown()
        if not ok:
            sys.exit(f"otel_send: the span export of {service} did not finish")
    return sent


def send_metrics(endpoint, headers, compression):
    reader = InMemoryMetricReader()
    provider = MeterProvider(resource=resource("checkout"), metric_readers=[reader])
    meter = provider.get_meter("trickle.demo", "1.0.0")
    orders = meter.create_counter("orders", unit="1")
    latency = meter.create_histogram("checkout.duration", unit="ms")
    for i in range(6):
        orders.add(1, {"outcome": "paid" if i % 3 else "declined"})
        latency.record(100 * (i + 1))
    data = reader.get_metrics_data()
    exporter = OTLPMetricExporter(endpoint=f"{endpoint}/v1/metrics", headers=headers,
                                  compression=compression)
    result = exporter.export(data)
    exporter.shutdown()
    provider.shutdown()
    if result.name != "SUCCESS":
        sys.exit(f"otel_send: the metric export failed: {result}")
    return [{"metric_name": "orders", "attributes": {"outcome": "declined"}, "value": 2.0},
            {"metric_name": "orders", "attributes": {"outcome": "paid"}, "value": 4.0},
            {"metric_name": "checkout.duration", "count": 6, "sum": 2100.0}]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", nargs="?", help="the function URL (ingest)")
    parser.add_argument("--token", help="the bearer token, when ingest wants one")
    parser.add_argument("--capture", action="store_true",
                        help="export to a local capture server and print the exports")
    args = parser.parse_args()
    if bool(args.url) == args.capture:
        parser.error("give URL or --capture")
    server = None
    if args.capture:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Capture)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    else:
        endpoint = args.url.rstrip("/")
    headers = {"Authorization": f"Bearer {args.token}"} if args.token else None
    sent = {
        "logs": send_logs(endpoint, headers, Compression.Gzip),
        "spans": send_spans(endpoint, headers, Compression.NoCompression),
        "metrics": send_metrics(endpoint, headers, Compression.Deflate),
    }
    out = {"sent": sent}
    if server:
        server.shutdown()
        out["exports"] = Capture.exports
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()

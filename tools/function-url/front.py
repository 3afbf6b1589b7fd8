#!/usr/bin/env python3
"""A local Lambda function URL: real HTTP in, the function URL event out, the answer back.

    python3 tools/function-url/front.py --port 9180 --invoke http://127.0.0.1:9150 \
        --function ingest [--cors-allow-origins https://a.example,https://b.example]

Each request becomes the event AWS documents for function URLs (payload format 2.0:
https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html#urls-payloads), which is
handed to the function through the Lambda Invoke API of `cargo lambda watch`
(`POST /2015-03-31/functions/FUNCTION/invocations`); the function's response object
(`statusCode`, `headers`, `cookies`, `body`, `isBase64Encoded`) becomes the HTTP answer.
`cargo lambda watch`'s own function-URL emulator answers 500 to a compressed JSON or text body
before the function runs, and answers CORS preflights for every origin; this front does what
the real URL does instead:

- **The body.** AWS documents `body` as base64-encoded when the content is binary, and
  `isBase64Encoded` as saying so, without listing which content types count as text. This
  front passes a body as text only when it has no `Content-Encoding`, its Content-Type is
  textual (`text/*`, `application/json`, `application/*+json`, `application/xml`,
  `application/*+xml`, `application/javascript`, `application/x-www-form-urlencoded`) and it
  is valid UTF-8; anything else is base64. Where AWS draws the line differently, ingest reads
  both forms (its handler tests pin each with hand-made events), so nothing depends on it.
- **Limits.** A request body over 6 MB (6,291,456 bytes) is refused with 413 before the
  function runs, as the function URL's invocation payload limit does.
- **CORS.** With `--cors-allow-origins`, a preflight (`OPTIONS` with
  `Access-Control-Request-Method`) from an allowed origin is answered here with the allowed
  methods and headers, and never reaches the function; any other origin gets no CORS headers.
  Answers to allowed origins carry `Access-Control-Allow-Origin`. `*` allows every origin.
- **Headers.** Lower-cased; repeated headers joined with `,`; `cookie` moved to `cookies`.

It is a test and demo tool: one thread per request, loopback only.
"""

import argparse
import base64
import datetime
import http.server
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

MAX_REQUEST_BYTES = 6 * 1024 * 1024
TEXT_TYPES = ("application/json", "application/xml", "application/javascript",
              "application/x-www-form-urlencoded")
URL_ID = "localfront0000000000000000000000"


def is_text(content_type, content_encoding, body):
    """Whether the body goes into the event as text (else base64)."""
    if content_encoding:
        return False
    essence = (content_type or "").split(";", 1)[0].strip().lower()
    textual = (essence.startswith("text/") or essence in TEXT_TYPES
               or essence.endswith("+json") or essence.endswith("+xml"))
    if not textual:
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def build_event(method, target, headers, body, source_ip="127.0.0.1"):
    """The function URL event (payload format 2.0) for one request."""
    parsed = urllib.parse.urlsplit(target)
    joined = {}
    cookies = []
    for name, value in headers:
        key = name.lower()
        if key == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
            continue
        joined[key] = f"{joined[key]},{value}" if key in joined else value
    query = {}
    for k, v in urllib.parse.parse_qsl(parsed.query, keep_blank_values=True):
        query[k] = f"{query[k]},{v}" if k in query else v
    now = time.time()
    event = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": parsed.path or "/",
        "rawQueryString": parsed.query,
        "headers": joined,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": URL_ID,
            "domainName": f"{URL_ID}.lambda-url.us-east-1.on.aws",
            "domainPrefix": URL_ID,
            "http": {
                "method": method,
                "path": parsed.path or "/",
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": joined.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": datetime.datetime.fromtimestamp(now, datetime.timezone.utc)
            .strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if body:
        if is_text(joined.get("content-type"), joined.get("content-encoding"), body):
            event["body"] = body.decode("utf-8")
        else:
            event["body"] = base64.b64encode(body).decode("ascii")
            event["isBase64Encoded"] = True
    return event


def make_handler(invoke_url, function, cors_origins):
    class Front(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):  # quiet: tests read the answers
            pass

        def _allowed_origin(self):
            origin = self.headers.get("Origin")
            if origin is None or not cors_origins:
                return None
            if "*" in cors_origins:
                return "*"
            return origin if origin in cors_origins else None

        def _send(self, status, headers, body, cookies=()):
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            for c in cookies:
                self.send_header("Set-Cookie", c)
            origin = self._allowed_origin()
            if origin:
                self.send_header("Access-Control-Allow-Origin", origin)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _handle(self):
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_REQUEST_BYTES:
                self.close_connection = True
                return self._send(413, {"Content-Type": "application/json"},
                                  b'{"Message":"Request must be smaller than 6291456 bytes '
                                  b'for the InvokeFunction operation"}')
            body = self.rfile.read(length) if length else b""
            if (self.command == "OPTIONS" and cors_origins
                    and self.headers.get("Access-Control-Request-Method")):
                headers = {}
                if self._allowed_origin():
                    headers = {"Access-Control-Allow-Methods": "POST",
                               "Access-Control-Allow-Headers": "content-type,content-encoding,"
                               "x-partition-key,authorization",
                               "Access-Control-Max-Age": "300"}
                return self._send(200, headers, b"")
            event = build_event(self.command, self.path, self.headers.items(), body,
                                self.client_address[0])
            request = urllib.request.Request(
                f"{invoke_url}/2015-03-31/functions/{function}/invocations",
                data=json.dumps(event).encode(), method="POST",
                headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=120) as r:
                    answer = json.loads(r.read() or b"null")
            except (urllib.error.URLError, ValueError) as e:
                return self._send(502, {"Content-Type": "application/json"},
                                  json.dumps({"Message": f"invoke failed: {e}"}).encode())
            if not isinstance(answer, dict) or "statusCode" not in answer:
                # A function URL answers 200 with the JSON of any other result.
                return self._send(200, {"Content-Type": "application/json"},
                                  json.dumps(answer).encode())
            out = answer.get("body") or ""
            out = (base64.b64decode(out) if answer.get("isBase64Encoded")
                   else out.encode("utf-8"))
            self._send(int(answer["statusCode"]), answer.get("headers") or {}, out,
                       answer.get("cookies") or ())

        do_POST = do_GET = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _handle

    return Front


def serve(port, invoke_url, function, cors_origins=()):
    """Starts the front on 127.0.0.1:port in this thread (blocks)."""
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", port), make_handler(invoke_url, function, set(cors_origins)))
    server.serve_forever()


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--invoke", required=True, help="cargo lambda watch's base URL")
    p.add_argument("--function", default="ingest")
    p.add_argument("--cors-allow-origins", default="")
    a = p.parse_args(argv)
    origins = [o.strip() for o in a.cors_allow_origins.split(",") if o.strip()]
    print(f"function URL front on http://127.0.0.1:{a.port}/ -> {a.function}", flush=True)
    serve(a.port, a.invoke.rstrip("/"), a.function, origins)


if __name__ == "__main__":
    main(sys.argv[1:])

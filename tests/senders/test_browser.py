"""A real browser sends events: headless Chromium opens a page served on one origin that sends
`navigator.sendBeacon` and `fetch(..., {keepalive: true})` with the public browser key to the
local function URL on another origin; the records are read back from the stream, each marked
as a browser's.

Needs what conftest.py needs, with ingest's `BROWSER_KEY` set to `BROWSER_KEY` below (as
scripts/senders.sh and scripts/test.sh set it), and Chromium (`chromium`, which
scripts/setup.sh installs from Debian's packages with WITH_BROWSER=1).
"""

import http.server
import json
import shutil
import subprocess
import tempfile
import threading
import time

import pytest
import requests

BROWSER_KEY = "trickle-test-page-key"  # scripts/lib.sh make_env_file sets the same


PAGE = """<!doctype html>
<html><head><title>sending</title></head><body>
<script>
const url = "%(url)s?key=%(key)s";
const beaconed = navigator.sendBeacon(url, JSON.stringify([{event: "view", n: 1}, {event: "scroll", n: 2}]));
const text = navigator.sendBeacon(url, "plain words");
fetch(url, {method: "POST", keepalive: true, headers: {"Content-Type": "application/json"},
            body: JSON.stringify({event: "click", n: 3})})
  .then(r => { document.title = "fetch " + r.status + " beacons " + beaconed + " " + text; })
  .catch(e => { document.title = "fetch failed " + e; });
</script></body></html>
"""


@pytest.fixture(scope="module")
def page_origin(front, page_port):
    port = page_port
    body = (PAGE % {"url": front, "key": BROWSER_KEY}).encode()

    class Page(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()


def chromium():
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    assert path, "Chromium is not installed: run `WITH_BROWSER=1 bash scripts/setup.sh` (Debian's chromium)"
    return path


def test_beacons_and_a_keepalive_fetch_from_another_origin_land_marked(front, stream, page_origin):
    with tempfile.TemporaryDirectory() as profile:
        p = subprocess.run(
            [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", f"--user-data-dir={profile}", "--virtual-time-budget=10000",
             "--dump-dom", page_origin + "/"],
            capture_output=True, timeout=120)
    dom = p.stdout.decode(errors="replace")
    assert "fetch 200 beacons true true" in dom, (dom[:500], p.stderr.decode(errors="replace")[-2000:])
    want = sorted([
        {"event": "view", "n": 1}, {"event": "scroll", "n": 2}, "plain words",
        {"event": "click", "n": 3},
    ], key=json.dumps)
    deadline = time.time() + 20
    got = []
    while time.time() < deadline:
        got += [json.loads(r["Data"]) for r in stream.records()]
        if len(got) >= len(want):
            break
        time.sleep(0.5)
    assert all(r["source"] == "browser" and r["origin"] == page_origin for r in got), got
    assert sorted((r["record"] for r in got), key=json.dumps) == want


def test_what_the_key_may_not_do(front, stream):
    url = f"{front}?key={BROWSER_KEY}"
    r = requests.post(url, data=b"x" * (64 * 1024 + 1), headers={"Content-Type": "text/plain"})
    assert r.status_code == 413, r.text
    r = requests.post(url, json={"a": 1}, headers={"X-Partition-Key": "hot"})
    assert r.status_code == 400 and "browser key" in r.json()["error"], r.text
    r = requests.post(f"{front}?key=not-the-page-key-000", json={"a": 1})
    assert r.status_code == 401, r.text
    # A preflight from an origin CORS does not allow gets no CORS headers.
    r = requests.options(url, headers={"Origin": "https://evil.example",
                                       "Access-Control-Request-Method": "POST"})
    assert "Access-Control-Allow-Origin" not in r.headers
    assert stream.records() == []

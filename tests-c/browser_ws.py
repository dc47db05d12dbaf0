#!/usr/bin/env python3
"""The browser test of MSRP over WebSocket (RFC 7977): headless Chromium
opens tests-c/browser/msrp_ws_page.html, served here on loopback, which
speaks MSRP over the browser's WebSocket API to `msrp-peer accept --ws`.
The page sends a chat line and a file; msrp-peer sends a chat line and a
file back. Checked: what msrp-peer received (RECEIVED lines, SHA-256, the
file in --out-dir), what the page received (its JSON report: SHA-256,
every WebSocket message exactly one chunk), the msrp subprotocol, and the
200s on both sides.

Exit 0 on success, 1 on failure, 77 (skipped, with a message) when no
Chromium is installed (Debian `chromium`, scripts/install-tools.sh)."""

import argparse
import hashlib
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
PAGE = os.path.join(HERE, "browser", "msrp_ws_page.html")
TIMEOUT = 90


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


def serve(page, file_bytes):
    """A loopback HTTP server for the page, /file.bin and POST /result."""
    got = {"event": threading.Event(), "report": None}

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _send(self, body, ctype):
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            path = urllib.parse.urlparse(self.path).path
            if path == "/page.html":
                self._send(page, "text/html; charset=utf-8")
            elif path == "/file.bin":
                self._send(file_bytes, "application/octet-stream")
            else:
                self.send_error(404)

        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(n)
            self._send(b"ok", "text/plain")
            got["report"] = json.loads(body)
            got["event"].set()

    server = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, got


def fail(what, *details):
    print("FAIL browser: " + what)
    for d in details:
        print(d)
    sys.exit(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--peer", required=True, help="the msrp-peer binary")
    args = ap.parse_args()
    chromium = find_chromium()
    if chromium is None:
        print("SKIP browser: no chromium installed (Debian package chromium; scripts/install-tools.sh)")
        sys.exit(77)

    tmp = tempfile.mkdtemp(prefix="msrp-browser-")
    try:
        # The page's file: 300 KiB, not valid UTF-8 (binary messages).
        page_file = bytes((i * 7 + (i >> 9)) & 0xFF for i in range(300 * 1024))
        peer_file = os.path.join(tmp, "peer.bin")
        with open(peer_file, "wb") as f:
            f.write(bytes((i * 13 + 5) & 0xFF for i in range(200 * 1024)))
        out = os.path.join(tmp, "in")
        os.mkdir(out)
        page_text = "chat from the browser \u00e9t\u00e9"
        peer_text = "chat from msrp-peer \u00fc"

        peer = subprocess.Popen(
            [args.peer, "accept", "--ws", "--send-text", peer_text, "--send-file", peer_file,
             "--count", "2", "--out-dir", out, "--timeout", "60", "--no-progress"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        path_line = peer.stdout.readline().strip()
        if not path_line.startswith("PATH "):
            peer.kill()
            fail("no PATH line from msrp-peer", path_line, peer.communicate()[1])
        peer_uri = path_line.split()[1]
        if not peer_uri.endswith(";ws"):
            peer.kill()
            fail("msrp-peer --ws PATH is not a ;ws URI: " + peer_uri)
        port = urllib.parse.urlparse(peer_uri.replace("msrp://", "http://", 1)).port
        session = os.urandom(6).hex()
        local = "msrp://%s.invalid:2855/%s;ws" % (os.urandom(5).hex(), session)
        peer.stdin.write("PATH %s\n" % local)
        peer.stdin.flush()

        with open(PAGE, "rb") as f:
            server, got = serve(f.read(), page_file)
        query = urllib.parse.urlencode({"ws": "ws://127.0.0.1:%d/" % port, "peer": peer_uri,
                                        "local": local, "text": page_text, "expect": "2"})
        url = "http://127.0.0.1:%d/page.html?%s" % (server.server_address[1], query)
        profile = os.path.join(tmp, "profile")
        browser = subprocess.Popen(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run",
             "--user-data-dir=" + profile, url],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            reported = got["event"].wait(TIMEOUT)
            try:
                peer_out, peer_err = peer.communicate(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                peer.kill()
                peer_out, peer_err = peer.communicate()
        finally:
            browser.kill()
            browser_err = browser.communicate()[1]
            server.shutdown()
        lines = [path_line] + peer_out.splitlines()
        peer_report = "--- msrp-peer (exit %s)\n%s\n%s" % (peer.returncode, "\n".join(lines), peer_err[-3000:])
        if not reported:
            fail("the page sent no report", peer_report, "--- chromium\n" + browser_err[-3000:])
        r = got["report"]
        page_report = "--- page report\n" + json.dumps(r, indent=1)[:4000]
        if r["errors"]:
            fail("the page saw errors", page_report, peer_report)
        if r["protocol"] != "msrp":
            fail("the WebSocket subprotocol is %r, not msrp" % r["protocol"], page_report)
        if peer.returncode != 0:
            fail("msrp-peer failed", peer_report, page_report)

        # What msrp-peer received from the browser.
        rec = [l.split() for l in lines if l.startswith("RECEIVED ")]
        want_text = hashlib.sha256(page_text.encode()).hexdigest()
        want_file = hashlib.sha256(page_file).hexdigest()
        texts = [x for x in rec if x[2] == "text/plain"]
        files = [x for x in rec if x[2] == "application/octet-stream"]
        if not (len(rec) == 2 and len(texts) == 1 and texts[0][4] == want_text
                and texts[0][3] == str(len(page_text.encode()))):
            fail("msrp-peer did not get the browser's chat line", peer_report)
        if not (len(files) == 1 and files[0][3] == str(len(page_file)) and files[0][4] == want_file
                and sha256_file(os.path.join(out, files[0][1])) == want_file):
            fail("msrp-peer did not get the browser's file whole", peer_report)
        sent = [l.split() for l in lines if l.startswith("SENT ")]
        if [s[2] for s in sent] != ["200", "200"]:
            fail("msrp-peer's messages were not both answered 200", peer_report)

        # What the browser received from msrp-peer, one chunk per message.
        got_rec = {x["content_type"]: x for x in r["received"]}
        t = got_rec.get("text/plain")
        if t is None or t["text"] != peer_text or t["sha256"] != hashlib.sha256(peer_text.encode()).hexdigest():
            fail("the browser did not get msrp-peer's chat line", page_report)
        f = got_rec.get("application/octet-stream")
        if f is None or f["size"] != os.path.getsize(peer_file) or f["sha256"] != sha256_file(peer_file):
            fail("the browser did not get msrp-peer's file whole", page_report)
        if not (r["text_messages"] > 0 and r["binary_messages"] > 0):
            fail("expected text messages (chat, responses) and binary ones (the file's chunks)", page_report)
        for s in r["sent"]:
            if any(c != 200 for c in s["codes"]):
                fail("a chunk the browser sent was not answered 200", page_report)
        print("PASS browser: chat and a %d-octet file each way between Chromium and msrp-peer "
              "over WebSocket (%d WebSocket messages in, %d text, %d binary)"
              % (len(page_file), r["ws_messages"], r["text_messages"], r["binary_messages"]))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

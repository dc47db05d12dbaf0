#!/usr/bin/env python3
"""int_peer_wire: `msrp-peer accept` against byte sequences that deployed MSRP
stacks send, played over a raw loopback socket.

The peer under test prints its PATH; this script connects to it as the active
side, gives it its own path on stdin (the SDP exchange), binds with a bodiless
SEND and then plays requests in the shapes other stacks write (UUID and short
transaction ids, sipsimple's FILE_OFFSET, a request without From-Path, a 4 MiB
single chunk as python-msrplib sends, msrp-node-lib's payload longer than its
Byte-Range, header spellings). Each answer is checked, and msrp-peer must
print RECEIVED for every message and exit 0 after --count of them: one bad
request never ends the session.

usage: peer_wire.py --peer PATH/TO/msrp-peer
"""
import argparse
import hashlib
import socket
import subprocess
import sys
import threading

TIMEOUT = 60
PEER_URI = "msrp://127.0.0.1:9/w1r3p33r;tcp"


def fail(text):
    print("FAIL: " + text, file=sys.stderr)
    sys.exit(1)


class Wire:
    """The raw side: writes requests, reads the chunks the peer sends."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        more = self.sock.recv(65536)
        if not more:
            fail("msrp-peer closed the connection")
        self.buf += more

    def next_chunk(self):
        """(start line, header text) of the next bodiless chunk (responses)."""
        while True:
            end = self.buf.find(b"\r\n")
            if end >= 0:
                start = self.buf[:end].decode()
                tid = start.split(" ")[1]
                marker = ("\r\n-------" + tid).encode()
                stop = self.buf.find(marker, end)
                if stop >= 0 and len(self.buf) >= stop + len(marker) + 3:
                    head = self.buf[end + 2:stop].decode(errors="replace")
                    self.buf = self.buf[stop + len(marker) + 3:]
                    return start, head
            self._fill()

    def response_to(self, tid):
        """The status code of the response to `tid` (others are skipped)."""
        while True:
            start, head = self.next_chunk()
            parts = start.split(" ")
            if parts[1] == tid and parts[2].isdigit():
                return int(parts[2]), head


def request(to, tid, method="SEND", mid=None, body=None, range_=None, extra="",
            content_type="text/plain", flag="$", from_path=True):
    lines = ["MSRP %s %s" % (tid, method), "To-Path: " + to]
    if from_path:
        lines.append("From-Path: " + PEER_URI)
    if mid:
        lines.append("Message-ID: " + mid)
    if body is not None and range_ is None:
        range_ = "1-%d/%d" % (len(body), len(body))
    if range_:
        lines.append("Byte-Range: " + range_)
    if extra:
        lines.append(extra)
    out = "\r\n".join(lines).encode() + b"\r\n"
    if body is not None:
        out += ("Content-Type: %s\r\n\r\n" % content_type).encode() + body + b"\r\n"
    return out + ("-------%s%s\r\n" % (tid, flag)).encode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--peer", required=True)
    args = ap.parse_args()

    big = bytes((i * 7 + i // 4096) % 251 for i in range(4 << 20))
    # (name, bytes builder, expected code of the request, message id and body
    # msrp-peer must report as RECEIVED, or None)
    cases = [
        ("UUID transaction id and Message-ID",
         lambda to: request(to, "5e0f1c2a-7b3d-4e8f-9a0b-1c2d3e4f5a6b", mid="6f1a2b3c-4d5e-4f60-8a9b-0c1d2e3f4a5b",
                            body=b"uuid ids"),
         "5e0f1c2a-7b3d-4e8f-9a0b-1c2d3e4f5a6b", 200, ("6f1a2b3c-4d5e-4f60-8a9b-0c1d2e3f4a5b", b"uuid ids")),
        ("two-character transaction id",
         lambda to: request(to, "x7", mid="sh0rt1d", body=b"short"),
         "x7", 200, ("sh0rt1d", b"short")),
        ("sipsimple FILE_OFFSET",
         lambda to: request(to, "f1l30ff5", method="FILE_OFFSET", mid="f1l3xf3r"),
         "f1l30ff5", 501, None),
        ("no From-Path",
         lambda to: request(to, "n0fr0m01", mid="n0fr0m", body=b"abc", from_path=False),
         "n0fr0m01", 400, None),
        ("4 MiB single chunk",
         lambda to: request(to, "b1gchunk", mid="b1gm3ss4g3", body=big, content_type="application/octet-stream"),
         "b1gchunk", 200, ("b1gm3ss4g3", big)),
        ("payload longer than its Byte-Range",
         lambda to: request(to, "n0d3l1b1", mid="n0d3m3ss4g3", body="\ufffd\ufffd\ufffd".encode(), range_="1-3/3",
                            content_type="application/octet-stream"),
         "n0d3l1b1", 200, ("n0d3m3ss4g3", "\ufffd\ufffd\ufffd".encode())),
        ("header spellings and MIME headers",
         lambda to: request(to, "h34d3r01", mid="h34d3rm3ss4g3", body=b"headers",
                            extra="content-id: <p1@example.com>\r\nContent-Disposition: inline",
                            content_type="text/plain; charset=UTF-8"),
         "h34d3r01", 200, ("h34d3rm3ss4g3", b"headers")),
    ]
    expected = [c[4] for c in cases if c[4]]

    proc = subprocess.Popen([args.peer, "accept", "--count", str(len(expected)), "--timeout", str(TIMEOUT)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    path = threading.Event()

    def read_out():
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith("PATH "):
                path.set()
        path.set()

    reader = threading.Thread(target=read_out, daemon=True)
    reader.start()
    if not path.wait(TIMEOUT) or not lines or not lines[-1].startswith("PATH "):
        proc.kill()
        fail("no PATH line: %r" % lines)
    to = lines[-1].split(" ")[1]
    port = int(to.split(":")[2].split("/")[0])
    proc.stdin.write("PATH %s\n" % PEER_URI)
    proc.stdin.flush()

    wire = Wire(port)
    wire.send(request(to, "b1nd1ng0"))
    code, _ = wire.response_to("b1nd1ng0")
    if code != 200:
        fail("binding answered %d" % code)
    for name, build, tid, code, _ in cases:
        wire.send(build(to))
        got, head = wire.response_to(tid)
        if got != code:
            fail("%s: answered %d, expected %d" % (name, got, code))
        if "To-Path: " + PEER_URI not in head:
            fail("%s: the response does not go back to the peer: %r" % (name, head))
        print("ok: %s -> %d" % (name, got))
    try:
        rc = proc.wait(TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        fail("msrp-peer did not exit: %r" % lines)
    reader.join(5)
    stderr = proc.stderr.read()
    if rc != 0:
        fail("msrp-peer exited %d: %r %s" % (rc, lines, stderr))
    received = {}
    for line in lines:
        if line.startswith("RECEIVED "):
            _, mid, _ctype, size, digest = line.split(" ")
            received[mid] = (int(size), digest)
    for mid, body in expected:
        if received.get(mid) != (len(body), hashlib.sha256(body).hexdigest()):
            fail("message %s: %r, expected %d octets (%r)" % (mid, received.get(mid), len(body), lines))
    if any(line.startswith("CLOSED") and not line.startswith("CLOSED local") for line in lines):
        fail("the session did not end cleanly: %r" % lines)
    print("peer_wire: all %d cases answered as expected" % len(cases))


if __name__ == "__main__":
    main()

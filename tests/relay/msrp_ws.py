#!/usr/bin/env python3
"""A test-only MSRP client over WebSocket (RFC 7977), standard library only.

It plays what a browser's MSRP stack does against an MSRP WebSocket server
(here Kamailio's websocket module in front of its msrp module, started by
kamailio.sh with --ws-port / --wss-port):

* the RFC 6455 opening handshake with `Sec-WebSocket-Protocol: msrp`
  (RFC 7977 §4.1), checking the server's 101 and `Sec-WebSocket-Accept`;
* one MSRP chunk per WebSocket message, either direction (RFC 7977 §5.1),
  client frames masked (RFC 6455 §5.3), text frames for chunks that are
  UTF-8 and binary frames otherwise (RFC 7977 §4.2: both are accepted);
* a From-Path URI with a random `.invalid` host and the `ws` transport
  (RFC 7977 §5.2.1 and §8: a browser cannot know its own address);
* AUTH to the relay with HTTP Digest (RFC 4976 §5.1; RFC 7977 §5.3.1),
  whose 200 gives the Use-Path the peers send to;
* SEND with chunking (RFC 4975 §5.1), answering 200 to every SEND it gets
  and putting received chunks together by Message-ID.

It is not libmsrp and shares no code with it: libmsrp itself does not speak
WebSocket. `python3 msrp_ws.py --selftest` checks the framing code alone.
"""
import base64
import hashlib
import os
import queue
import socket
import ssl
import struct
import threading
import time

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 §1.3

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


class Closed(Exception):
    """The WebSocket connection ended (close frame or end of stream)."""


def random_token(n=10):
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(alphabet[b % len(alphabet)] for b in os.urandom(n))


def mask(data, key):
    """RFC 6455 §5.3: data XOR the 4-byte key, repeated."""
    if not data:
        return b""
    n = len(data)
    stream = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(stream, "big")).to_bytes(n, "big")


def encode_frame(opcode, payload, fin=True, masked=True):
    """One frame (RFC 6455 §5.2); clients mask, servers do not."""
    first = (0x80 if fin else 0) | opcode
    n = len(payload)
    mbit = 0x80 if masked else 0
    if n < 126:
        head = struct.pack("!BB", first, mbit | n)
    elif n < 1 << 16:
        head = struct.pack("!BBH", first, mbit | 126, n)
    else:
        head = struct.pack("!BBQ", first, mbit | 127, n)
    if masked:
        key = os.urandom(4)
        return head + key + mask(payload, key)
    return head + payload


class FrameReader:
    """Reads frames off a byte source (`recv(n)` returning b"" at the end)."""

    def __init__(self, recv):
        self.recv = recv
        self.buf = b""

    def _need(self, n):
        while len(self.buf) < n:
            more = self.recv(65536)
            if not more:
                raise Closed("end of stream")
            self.buf += more
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def frame(self):
        """(fin, opcode, payload, was_masked)."""
        b0, b1 = self._need(2)
        fin, opcode = bool(b0 & 0x80), b0 & 0x0F
        masked, n = bool(b1 & 0x80), b1 & 0x7F
        if n == 126:
            (n,) = struct.unpack("!H", self._need(2))
        elif n == 127:
            (n,) = struct.unpack("!Q", self._need(8))
        key = self._need(4) if masked else None
        payload = self._need(n)
        if masked:
            payload = mask(payload, key)
        return fin, opcode, payload, masked


class WebSocket:
    """A client WebSocket connection (RFC 6455) with one subprotocol."""

    def __init__(self, host, port, path="/", cafile=None, protocol="msrp", timeout=10.0,
                 origin="http://127.0.0.1"):
        raw = socket.create_connection((host, port), timeout=timeout)
        if cafile:
            ctx = ssl.create_default_context(cafile=cafile)
            raw = ctx.wrap_socket(raw, server_hostname=host)
        self.sock = raw
        self.lock = threading.Lock()
        # (opcode, fin, length, masked, valid UTF-8) of every frame received,
        # for the record.
        self.frames_in = []
        key = base64.b64encode(os.urandom(16)).decode()
        request = ("GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n" % (path, host, port, key))
        if protocol:
            request += "Sec-WebSocket-Protocol: %s\r\n" % protocol
        if origin:
            request += "Origin: %s\r\n" % origin
        self.request = request + "\r\n"
        self.sock.sendall(self.request.encode())
        head = b""
        while b"\r\n\r\n" not in head:
            more = self.sock.recv(4096)
            if not more:
                raise Closed("connection closed during the handshake; got %r" % head)
            head += more
        head, rest = head.split(b"\r\n\r\n", 1)
        self.response = head.decode("latin-1")
        lines = self.response.split("\r\n")
        self.status = lines[0]
        self.headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            self.headers[name.strip().lower()] = value.strip()
        # The reader blocks until a frame comes; callers time their waits.
        self.sock.settimeout(None)
        self.reader = FrameReader(self.sock.recv)
        self.reader.buf = rest
        self.accepted = self.status.split(" ")[1:2] == ["101"]
        if self.accepted:
            want = base64.b64encode(hashlib.sha1(key.encode() + WS_GUID).digest()).decode()
            if self.headers.get("sec-websocket-accept") != want:
                raise AssertionError("bad Sec-WebSocket-Accept in\n" + self.response)

    def send(self, data, opcode=None):
        """One whole message in one frame: text if it is UTF-8, else binary."""
        if opcode is None:
            try:
                data.decode("utf-8")
                opcode = OP_TEXT
            except UnicodeDecodeError:
                opcode = OP_BINARY
        with self.lock:
            self.sock.sendall(encode_frame(opcode, data))

    def send_raw(self, raw):
        with self.lock:
            self.sock.sendall(raw)

    def recv(self):
        """The next whole message: (opcode, payload). Answers pings; a close
        frame is answered and raises Closed."""
        parts, first_op = [], None
        while True:
            fin, op, payload, was_masked = self.reader.frame()
            try:
                payload.decode("utf-8")
                utf8 = True
            except UnicodeDecodeError:
                utf8 = False
            self.frames_in.append((op, fin, len(payload), was_masked, utf8))
            if op == OP_PING:
                with self.lock:
                    self.sock.sendall(encode_frame(OP_PONG, payload))
                continue
            if op == OP_PONG:
                continue
            if op == OP_CLOSE:
                try:
                    with self.lock:
                        self.sock.sendall(encode_frame(OP_CLOSE, payload[:2]))
                except OSError:
                    pass
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                raise Closed("close frame %s %r" % (code, payload[2:]))
            if op != OP_CONT:
                first_op = op
            parts.append(payload)
            if fin:
                return first_op, b"".join(parts)

    def close(self):
        try:
            with self.lock:
                self.sock.sendall(encode_frame(OP_CLOSE, struct.pack("!H", 1000)))
        except OSError:
            pass
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes a reader blocked in recv
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass


# --- MSRP -------------------------------------------------------------------

class Frame:
    """One MSRP request or response (RFC 4975 §7.1, §8)."""

    def __init__(self, raw):
        self.raw = raw
        head, sep, rest = raw.partition(b"\r\n")
        first = head.decode("latin-1").split(" ", 3)
        if len(first) < 3 or first[0] != "MSRP":
            raise ValueError("not an MSRP start line: %r" % head[:80])
        self.tid = first[1]
        if first[2].isdigit() and len(first[2]) == 3:
            self.method, self.code = None, int(first[2])
            self.comment = first[3] if len(first) > 3 else ""
        else:
            self.method, self.code, self.comment = first[2], None, None
        end = b"-------" + self.tid.encode()
        pos = rest.rfind(end)
        if pos < 0:
            raise ValueError("no end-line for %s" % self.tid)
        self.flag = rest[pos + len(end):pos + len(end) + 1].decode()
        block = rest[:pos]
        if b"\r\n\r\n" in block:
            hdrs, body = block.split(b"\r\n\r\n", 1)
            body = body[:-2] if body.endswith(b"\r\n") else body
        else:
            hdrs, body = block, None
        self.headers = []
        for line in hdrs.decode("utf-8").split("\r\n"):
            if line:
                name, _, value = line.partition(":")
                self.headers.append((name.strip(), value.strip()))
        self.body = body

    def h(self, name):
        for n, v in self.headers:
            if n.lower() == name.lower():
                return v
        return None


def build(tid, first, headers, body=None, flag="$"):
    out = ["MSRP %s %s" % (tid, first)]
    out += ["%s: %s" % (n, v) for n, v in headers]
    raw = "\r\n".join(out).encode() + b"\r\n"
    if body is not None:
        raw += b"\r\n" + body + b"\r\n"
    return raw + b"-------" + tid.encode() + flag.encode() + b"\r\n"


def digest(user, password, realm, nonce, uri, method="AUTH", qop="auth"):
    """RFC 2617 with qop=auth, as RFC 4976 §5.1 uses it."""
    def md5(s):
        return hashlib.md5(s.encode()).hexdigest()
    cnonce, nc = random_token(16), "00000001"
    response = md5("%s:%s:%s:%s:%s:%s" % (md5("%s:%s:%s" % (user, realm, password)), nonce, nc, cnonce, qop,
                                           md5("%s:%s" % (method, uri))))
    return ('Digest username="%s", realm="%s", nonce="%s", uri="%s", response="%s", qop=%s, nc=%s, '
            'cnonce="%s"' % (user, realm, nonce, uri, response, qop, nc, cnonce))


def parse_challenge(value):
    params = {}
    for part in value[len("Digest "):].split(","):
        k, _, v = part.strip().partition("=")
        params[k] = v.strip('"')
    return params


class Incoming:
    """A message being received: chunks by byte range."""

    def __init__(self, content_type):
        self.content_type = content_type
        self.parts = {}
        self.total = None
        self.done = False

    def add(self, frame):
        rng = frame.h("Byte-Range") or "1-*/*"
        span, _, total = rng.partition("/")
        start = int(span.split("-")[0])
        if total != "*":
            self.total = int(total)
        self.parts[start] = frame.body or b""
        if frame.flag == "$":
            self.done = True

    def body(self):
        out = b""
        for start in sorted(self.parts):
            if start - 1 != len(out):
                raise AssertionError("gap before byte %d" % start)
            out += self.parts[start]
        return out


class MsrpWsClient:
    """An MSRP endpoint on one WebSocket connection to a relay.

    A reader thread answers every SEND with 200 (RFC 4975 §7.2; the relay
    passes no endpoint responses on, RFC 4976 relays answer hop by hop),
    collects incoming messages, and queues the responses to this client's
    requests by transaction id."""

    def __init__(self, ws, relay_uri):
        self.ws = ws
        self.relay_uri = relay_uri
        scheme = relay_uri.split(":", 1)[0]
        self.local_uri = "%s://%s.invalid:2855/%s;ws" % (scheme, random_token(12), random_token(10))
        self.use_path = None
        self.responses = {}
        self.cond = threading.Condition()
        self.incoming = {}  # message-id -> Incoming
        self.order = []  # message ids in order of first chunk
        self.requests_in = []  # every request received (Frame), for the record
        self.error = None
        self.closed = False
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        try:
            while True:
                _, payload = self.ws.recv()
                frame = Frame(payload)
                if frame.method is None:
                    with self.cond:
                        self.responses[frame.tid] = frame
                        self.cond.notify_all()
                    continue
                self.requests_in.append(frame)
                if frame.method == "SEND":
                    self._on_send(frame)
                # REPORTs and others need no answer here.
        except Closed as e:
            with self.cond:
                self.closed = str(e) or True
                self.cond.notify_all()
        except Exception as e:  # a bug or a malformed frame: make the test fail
            with self.cond:
                self.error = e
                self.cond.notify_all()

    def _on_send(self, frame):
        mid = frame.h("Message-ID")
        with self.cond:
            if frame.body is not None or frame.h("Byte-Range"):
                if mid not in self.incoming:
                    self.incoming[mid] = Incoming(frame.h("Content-Type"))
                    self.order.append(mid)
                self.incoming[mid].add(frame)
            self.cond.notify_all()
        if frame.h("Failure-Report") == "no":
            return
        prev_hop = frame.h("From-Path").split()[0]
        self.ws.send(build(frame.tid, "200 OK", [("To-Path", prev_hop), ("From-Path", self.local_uri)]))

    def wait_for(self, what, cond, timeout=30.0):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                if self.error:
                    raise AssertionError("WebSocket client failed: %r" % self.error)
                value = cond()
                if value:
                    return value
                if self.closed:
                    raise AssertionError("WebSocket closed (%s) while waiting for %s" % (self.closed, what))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("timed out waiting for %s" % what)
                self.cond.wait(left)

    def request(self, method, to_path, headers=(), body=None, flag="$", wait=True, tid=None):
        tid = tid or random_token(12)
        hdrs = [("To-Path", " ".join(to_path)), ("From-Path", self.local_uri)] + list(headers)
        self.ws.send(build(tid, method, hdrs, body, flag))
        if not wait:
            return tid
        return self.response(tid)

    def response(self, tid, timeout=30.0):
        return self.wait_for("the response to %s" % tid, lambda: self.responses.get(tid), timeout)

    def auth(self, user, password, expires=None):
        """AUTH to the relay (RFC 4976 §5.1): 401, then the digest; returns
        the Use-Path URIs and keeps them."""
        extra = [("Expires", str(expires))] if expires else []
        r = self.request("AUTH", [self.relay_uri], extra)
        if r.code != 401:
            raise AssertionError("AUTH without credentials: %s %s" % (r.code, r.comment))
        chal = parse_challenge(r.h("WWW-Authenticate"))
        authz = digest(user, password, chal["realm"], chal["nonce"], self.relay_uri)
        r = self.request("AUTH", [self.relay_uri], [("Authorization", authz)] + extra)
        if r.code != 200:
            raise AssertionError("AUTH with credentials: %s %s" % (r.code, r.comment))
        self.use_path = r.h("Use-Path").split()
        self.auth_response = r
        return self.use_path

    def sdp_path(self):
        """The a=path a peer gets (RFC 4976 §7.1): Use-Path, then our URI."""
        return self.use_path + [self.local_uri]

    def send_message(self, remote_path, body, content_type, chunk_size=8192, message_id=None,
                     window=16):
        """Sends one message in chunks; returns (message id, the codes of
        the chunks' responses). Up to `window` chunks are in flight."""
        mid = message_id or random_token(12)
        to_path = self.use_path + list(remote_path)
        total = len(body)
        tids, codes = [], []
        pos = 0
        while True:
            piece = body[pos:pos + chunk_size]
            last = pos + len(piece) >= total
            hdrs = [("Message-ID", mid),
                    ("Byte-Range", "%d-%d/%d" % (pos + 1, pos + len(piece), total)),
                    ("Content-Type", content_type)]
            tids.append(self.request("SEND", to_path, hdrs, piece, "$" if last else "+", wait=False))
            if len(tids) - len(codes) >= window:
                codes.append(self.response(tids[len(codes)]).code)
            pos += len(piece)
            if last:
                break
        while len(codes) < len(tids):
            codes.append(self.response(tids[len(codes)]).code)
        return mid, codes

    def bind(self, remote_path):
        """The bodiless SEND an active endpoint starts with (RFC 4975 §7.1
        allows it; RFC 7977 §6 keeps connections with it)."""
        tid = random_token(12)
        r = self.request("SEND", self.use_path + list(remote_path),
                         [("Message-ID", random_token(12)), ("Byte-Range", "1-0/0")], tid=tid)
        return r.code

    def message(self, mid):
        with self.cond:
            return self.incoming.get(mid)

    def completed(self):
        with self.cond:
            return [m for m in self.order if self.incoming[m].done]

    def close(self):
        self.ws.close()


def _selftest():
    payload = bytes(range(256)) * 300
    for n in (0, 1, 125, 126, 65535, 65536, len(payload)):
        raw = encode_frame(OP_BINARY, payload[:n])
        chunks = [raw[i:i + 7] for i in range(0, len(raw), 7)]
        reader = FrameReader(lambda _n, c=iter(chunks): next(c, b""))
        fin, op, got, was_masked = reader.frame()
        assert fin and op == OP_BINARY and got == payload[:n] and was_masked, n
    f = Frame(build("t1", "SEND", [("To-Path", "msrp://a:1/x;tcp"), ("From-Path", "msrp://b:2/y;ws"),
                                   ("Byte-Range", "1-3/3")], b"abc"))
    assert f.method == "SEND" and f.body == b"abc" and f.flag == "$" and f.h("byte-range") == "1-3/3"
    r = Frame(build("t2", "200 OK", [("To-Path", "msrp://a:1/x;tcp")]))
    assert r.code == 200 and r.body is None
    print("msrp_ws self-test: ok")


if __name__ == "__main__":
    import sys
    if sys.argv[1:] == ["--selftest"]:
        _selftest()
    else:
        print(__doc__)

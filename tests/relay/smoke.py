#!/usr/bin/env python3
"""End-to-end smoke test of the Kamailio MSRP relay (RFC 4976) harness.

Stdlib only. Two MSRP clients, A and B, authenticate to the relay (AUTH,
401 challenge, digest, 200 with Use-Path and Expires), then exchange SENDs
and REPORTs through it, over TCP and over TLS legs, and probe the error
answers and limits. Every frame sent and received is printed (bodies
abbreviated), so the output is a transcript of the relay's wire behaviour.

Usage:
  smoke.py                      start a relay with kamailio.sh, test, stop it
  smoke.py --env RUNDIR/relay.env   use a running relay (kamailio.sh start output)
  smoke.py --tcp-port N --tls-port N [--cert F] [--user U --password P]

Exit 0 when every check passed; the last line is "N passed, N failed".
"""

import argparse
import hashlib
import os
import re
import secrets
import socket
import ssl
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
READ_TIMEOUT = 3.0
QUIET_WAIT = 0.4  # how long to listen for frames that should NOT come
ADVERTISED_PORT = 2855  # port in the clients' own URIs (MSRP's default)

# ---------------------------------------------------------------- transcript

VERBOSE_BODY = 60


def show(direction, raw):
    """Print one frame, body abbreviated."""
    text = raw.decode("utf-8", "replace")
    head, sep, rest = text.partition("\r\n\r\n")
    if sep:
        m = re.search(r"\r\n(-------\S+[$+#])\r\n$", rest)
        endline = m.group(1) if m else "?"
        body = rest[: m.start()] if m else rest
        if len(body) > VERBOSE_BODY:
            body_txt = "<%d bytes of body>" % len(body.encode())
        else:
            body_txt = body
        lines = head.split("\r\n") + ["", body_txt, endline]
    else:
        lines = text.rstrip("\r\n").split("\r\n")
    print("  %s" % direction)
    for ln in lines:
        print("    | " + ln)
    sys.stdout.flush()


def note(msg):
    print("  # " + msg)
    sys.stdout.flush()


# ---------------------------------------------------------------- frames


class Frame:
    def __init__(self, tid, method=None, code=None, comment=None, headers=None,
                 body=None, flag="$", raw=b""):
        self.tid = tid
        self.method = method
        self.code = code
        self.comment = comment
        self.headers = headers or []
        self.body = body
        self.flag = flag
        self.raw = raw

    def h(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def __repr__(self):
        if self.method:
            return "<%s %s>" % (self.method, self.tid)
        return "<%s %s %s>" % (self.code, self.comment, self.tid)


def build(tid, first, headers, body=None, flag="$", content_type="text/plain"):
    out = ["MSRP %s %s" % (tid, first)]
    for k, v in headers:
        out.append("%s: %s" % (k, v))
    raw = ("\r\n".join(out) + "\r\n").encode()
    if body is not None:
        raw += ("Content-Type: %s\r\n\r\n" % content_type).encode()
        raw += body if isinstance(body, bytes) else body.encode()
        raw += b"\r\n"
    raw += ("-------%s%s\r\n" % (tid, flag)).encode()
    return raw


class Conn:
    """One client connection to the relay, with a frame reader."""

    def __init__(self, name, port, tls=False, cafile=None):
        self.name = name
        self.tls = tls
        s = socket.create_connection(("127.0.0.1", port), timeout=READ_TIMEOUT)
        if tls:
            ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
            if cafile:
                ctx.load_verify_locations(cafile)
            else:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            s = ctx.wrap_socket(s, server_hostname="127.0.0.1")
            self.tls_info = "%s %s" % (s.version(), s.cipher()[0])
        self.sock = s
        self.buf = b""
        self.closed = False
        self.local_port = s.getsockname()[1]
        self.session = secrets.token_hex(8)
        scheme = "msrps" if tls else "msrp"
        # The advertised URI's port is NOT the socket's port (as with
        # msrp-peer's --local): delivery must come from the relay's session
        # map, not from the relay connecting to (or reusing a connection
        # with) the address in the URI. Nothing listens on it.
        self.uri = "%s://127.0.0.1:%d/%s;tcp" % (scheme, ADVERTISED_PORT, self.session)
        self.relay_uri = "%s://127.0.0.1:%d;tcp" % (scheme, port)
        self.use_path = None
        self.expires = None

    def send_raw(self, raw, label=None, quiet=False):
        if not quiet:
            show("%s >> relay%s" % (self.name, (" (" + label + ")") if label else ""), raw)
        self.sock.sendall(raw)

    def _fill(self, timeout):
        self.sock.settimeout(timeout)
        try:
            d = self.sock.recv(65536)
        except socket.timeout:
            return False
        except (ssl.SSLError, OSError):
            d = b""
        if not d:
            self.closed = True
            return False
        self.buf += d
        return True

    def read(self, timeout=READ_TIMEOUT, quiet=False):
        """Next frame, or None on timeout/close."""
        deadline = time.monotonic() + timeout
        while True:
            f = self._parse()
            if f is not None:
                if not quiet:
                    show("%s << relay" % self.name, f.raw)
                return f
            left = deadline - time.monotonic()
            if left <= 0 or self.closed:
                return None
            self._fill(left)

    def _parse(self):
        b = self.buf
        eol = b.find(b"\r\n")
        if eol < 0:
            return None
        first = b[:eol].decode("utf-8", "replace")
        m = re.match(r"MSRP (\S+) (\S+)(?: (.*))?$", first)
        if not m:
            raise RuntimeError("%s: bad first line %r" % (self.name, first))
        tid = m.group(1)
        end_marker = ("\r\n-------%s" % tid).encode()
        # Headers end at a blank line (body follows) or at the end-line.
        pos = eol + 2
        headers = []
        body = None
        while True:
            nl = b.find(b"\r\n", pos)
            if nl < 0:
                return None
            line = b[pos:nl].decode("utf-8", "replace")
            if line == "":
                bstart = nl + 2
                e = b.find(end_marker, bstart - 2)
                if e < 0 or len(b) < e + len(end_marker) + 3:
                    return None
                body = b[bstart:e]
                flag = chr(b[e + len(end_marker)])
                total = e + len(end_marker) + 3
                break
            if line.startswith("-------" + tid) and len(line) == 8 + len(tid):
                flag = line[-1]
                total = nl + 2
                break
            k, _, v = line.partition(":")
            headers.append((k.strip(), v.strip()))
            pos = nl + 2
        raw = b[:total]
        self.buf = b[total:]
        f = Frame(tid, headers=headers, body=body, flag=flag, raw=raw)
        if re.match(r"^\d{3}$", m.group(2)):
            f.code = int(m.group(2))
            f.comment = m.group(3) or ""
        else:
            f.method = m.group(2)
        return f

    def expect_nothing(self, wait=QUIET_WAIT):
        f = self.read(timeout=wait)
        return f

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# ---------------------------------------------------------------- digest

def parse_challenge(value):
    scheme, _, rest = value.partition(" ")
    params = {}
    for m in re.finditer(r'(\w+)=("([^"]*)"|[^,\s]+)', rest):
        params[m.group(1).lower()] = m.group(3) if m.group(3) is not None else m.group(2)
    return scheme, params


def md5(s):
    return hashlib.md5(s.encode()).hexdigest()


def authorization(user, password, chal, uri, method="AUTH", nc=1, cnonce=None,
                  include_uri=True):
    realm = chal["realm"]
    nonce = chal["nonce"]
    cnonce = cnonce or secrets.token_hex(8)
    ncs = "%08x" % nc
    ha1 = md5("%s:%s:%s" % (user, realm, password))
    ha2 = md5("%s:%s" % (method, uri))
    resp = md5("%s:%s:%s:%s:%s:%s" % (ha1, nonce, ncs, cnonce, "auth", ha2))
    parts = ['username="%s"' % user, 'realm="%s"' % realm, 'nonce="%s"' % nonce]
    if include_uri:
        parts.append('uri="%s"' % uri)
    parts += ['response="%s"' % resp, "qop=auth", "nc=%s" % ncs, 'cnonce="%s"' % cnonce]
    if "opaque" in chal:
        parts.append('opaque="%s"' % chal["opaque"])
    if "algorithm" in chal:
        parts.append("algorithm=%s" % chal["algorithm"])
    return "Digest " + ", ".join(parts)


# ---------------------------------------------------------------- test kit

class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.failures = []

    def ok(self, cond, what):
        if cond:
            self.passed += 1
            print("  [PASS] " + what)
        else:
            self.failed += 1
            self.failures.append(what)
            print("  [FAIL] " + what)
        sys.stdout.flush()
        return cond


def section(title):
    print("\n=== %s ===" % title)
    sys.stdout.flush()


_tid = [0]


def tid():
    _tid[0] += 1
    return "t%d%s" % (_tid[0], secrets.token_hex(3))


def auth_request(c, extra_headers=(), authz=None, to_path=None):
    t = tid()
    hdrs = [("To-Path", to_path or c.relay_uri), ("From-Path", c.uri)]
    if authz:
        hdrs.append(("Authorization", authz))
    hdrs += list(extra_headers)
    c.send_raw(build(t, "AUTH", hdrs))
    return t, c.read()


def do_auth(ck, c, user, password, expires=None, label=""):
    """Full AUTH exchange; returns the final response frame."""
    t, r = auth_request(c)
    if not ck.ok(r is not None and r.code == 401 and r.h("WWW-Authenticate"),
                 "%s%s: AUTH without credentials -> 401 with WWW-Authenticate" % (c.name, label)):
        return r
    ck.ok(r.tid == t, "%s: 401 carries the AUTH's transaction id" % c.name)
    scheme, chal = parse_challenge(r.h("WWW-Authenticate"))
    c.challenge = chal
    extra = [("Expires", str(expires))] if expires is not None else []
    t2, r2 = auth_request(c, extra, authorization(user, password, chal, c.relay_uri))
    if r2 is not None and r2.code == 200:
        c.use_path = r2.h("Use-Path")
        c.expires = r2.h("Expires")
    return r2


def send_chunk(c, to_path, body, msg_id=None, byte_range=None, flag="$", extra=(),
               quiet=False, content_type="text/plain"):
    t = tid()
    msg_id = msg_id or secrets.token_hex(6)
    blen = len(body.encode() if isinstance(body, str) else body)
    byte_range = byte_range or "1-%d/%d" % (blen, blen)
    hdrs = [("To-Path", to_path), ("From-Path", c.uri), ("Message-ID", msg_id),
            ("Byte-Range", byte_range)] + list(extra)
    raw = build(t, "SEND", hdrs, body, flag, content_type)
    c.send_raw(raw, quiet=quiet)
    return t, msg_id, raw


def respond(c, req, code=200, comment="OK"):
    """Endpoint response to a SEND: To-Path = the first From-Path URI (the
    previous hop), From-Path = our own URI (RFC 4975 7.2)."""
    prev = req.h("From-Path").split()[0]
    raw = build(req.tid, "%d %s" % (code, comment),
                [("To-Path", prev), ("From-Path", c.uri)])
    c.send_raw(raw)


def path_to(sender, receiver):
    """To-Path for a SEND from sender to receiver, both behind the relay."""
    return "%s %s %s" % (sender.use_path, receiver.use_path, receiver.uri)


# ---------------------------------------------------------------- scenarios

def scenario_pair(ck, cfg, a_tls, b_tls, extra=True):
    la = "TLS" if a_tls else "TCP"
    lb = "TLS" if b_tls else "TCP"
    section("A (%s leg) -> relay -> B (%s leg)" % (la, lb))
    a = Conn("A", cfg.tls_port if a_tls else cfg.tcp_port, a_tls, cfg.cert)
    b = Conn("B", cfg.tls_port if b_tls else cfg.tcp_port, b_tls, cfg.cert)
    if a_tls:
        note("A's TLS: " + a.tls_info)
    try:
        ra = do_auth(ck, a, cfg.user, cfg.password)
        ck.ok(ra is not None and ra.code == 200 and a.use_path and a.expires == "3600",
              "A: AUTH with credentials -> 200, Use-Path, Expires 3600")
        rb = do_auth(ck, b, cfg.user, cfg.password)
        ck.ok(rb is not None and rb.code == 200 and b.use_path,
              "B: AUTH with credentials -> 200, Use-Path")
        if not (a.use_path and b.use_path):
            return
        scheme_a = "msrps" if a_tls else "msrp"
        port_a = cfg.tls_port if a_tls else cfg.tcp_port
        ck.ok(re.match(r"^%s://127\.0\.0\.1:%d/[0-9a-f]+;tcp$" % (scheme_a, port_a), a.use_path),
              "A: Use-Path is %s://127.0.0.1:%d/<session>;tcp" % (scheme_a, port_a))

        # A -> B
        to = path_to(a, b)
        note("A sends with To-Path = A's Use-Path + B's Use-Path + B's URI")
        t, mid, _ = send_chunk(a, to, "Hello B, from A over %s" % la,
                               extra=[("Success-Report", "no"), ("Failure-Report", "yes")])
        ra = a.read()
        fb = b.read()
        ck.ok(ra is not None and ra.code == 200 and ra.tid == t,
              "A: gets 200 for its SEND (tid kept)")
        if ra is not None:
            ck.ok(ra.h("To-Path") == a.uri and ra.h("From-Path") == a.use_path,
                  "A: the 200 comes from the relay (To-Path A, From-Path A's Use-Path)")
        ok_b = fb is not None and fb.method == "SEND"
        ck.ok(ok_b, "B: receives the SEND")
        if ok_b:
            want_from = "%s %s %s" % (b.use_path, a.use_path, a.uri)
            ck.ok(fb.h("To-Path") == b.uri, "B: To-Path is just B's URI")
            ck.ok(fb.h("From-Path") == want_from,
                  "B: From-Path = B's Use-Path, A's Use-Path, A's URI")
            ck.ok(fb.h("Message-ID") == mid and fb.body == ("Hello B, from A over %s" % la).encode(),
                  "B: Message-ID and body unchanged")
            note("B's copy has transaction id %s (A used %s)" % (fb.tid, t))
            respond(b, fb)
            late = a.expect_nothing()
            ck.ok(late is None, "A: B's 200 is NOT forwarded to A (hop-by-hop)")

        # B -> A, and a REPORT back
        section("B (%s) -> relay -> A (%s), plus REPORTs" % (lb, la))
        to_a = path_to(b, a)
        t2, mid2, _ = send_chunk(b, to_a, "Hi A, B here", extra=[("Success-Report", "yes")])
        rb2 = b.read()
        fa = a.read()
        ck.ok(rb2 is not None and rb2.code == 200, "B: gets the relay's 200")
        ok_a = fa is not None and fa.method == "SEND"
        ck.ok(ok_a, "A: receives B's SEND")
        if ok_a:
            ck.ok(fa.h("From-Path") == "%s %s %s" % (a.use_path, b.use_path, b.uri),
                  "A: From-Path = A's Use-Path, B's Use-Path, B's URI")
            respond(a, fa)
            # Success REPORT from A back to B, end to end through the relay.
            rt = tid()
            rep = build(rt, "REPORT", [("To-Path", path_to(a, b)), ("From-Path", a.uri),
                                       ("Message-ID", mid2), ("Byte-Range", "1-12/12"),
                                       ("Status", "000 200 OK")])
            a.send_raw(rep)
            fr = b.read()
            ck.ok(fr is not None and fr.method == "REPORT" and fr.h("Status") == "000 200 OK",
                  "B: receives A's REPORT")
            if fr is not None and fr.method == "REPORT":
                ck.ok(fr.h("From-Path") == "%s %s %s" % (b.use_path, a.use_path, a.uri),
                      "B: REPORT From-Path = B's Use-Path, A's Use-Path, A's URI")
            ck.ok(a.expect_nothing() is None, "A: no response to its REPORT")

        if not extra:
            return

        # Failure-Report: no -> no response from the relay
        section("SEND with Failure-Report: no (%s -> %s)" % (la, lb))
        send_chunk(a, to, "no response wanted", extra=[("Failure-Report", "no")])
        fb = b.read()
        ck.ok(fb is not None and fb.method == "SEND", "B: receives it")
        ck.ok(a.expect_nothing() is None, "A: relay sends no response (Failure-Report: no)")

        # B refuses a chunk: does A ever hear of it?
        section("B answers a SEND with 415 (%s -> %s)" % (la, lb))
        t, mid, _ = send_chunk(a, to, "unwanted", extra=[("Failure-Report", "yes")],
                               content_type="application/x-unwanted")
        r = a.read()
        fb = b.read()
        ck.ok(r is not None and r.code == 200, "A: relay's 200 as usual")
        if fb is not None:
            respond(b, fb, 415, "Unsupported Media Type")
        late = a.expect_nothing(wait=0.8)
        ck.ok(late is None, "A: B's 415 is not forwarded, and no REPORT comes from the relay")

        # Chunked message: two chunks with + then $
        section("Two-chunk message (%s -> %s)" % (la, lb))
        mid = secrets.token_hex(6)
        send_chunk(a, to, "first half ", msg_id=mid, byte_range="1-11/22", flag="+")
        send_chunk(a, to, "second half", msg_id=mid, byte_range="12-22/22", flag="$")
        got = [b.read(), b.read()]
        ck.ok(all(g is not None and g.method == "SEND" for g in got)
              and got[0].flag == "+" and got[1].flag == "$"
              and got[1].h("Byte-Range") == "12-22/22",
              "B: both chunks arrive in order, flags and Byte-Range kept")
        resp = [a.read(), a.read()]
        ck.ok(all(r is not None and r.code == 200 for r in resp), "A: two 200s from the relay")
        for g in got:
            if g is not None:
                respond(b, g)
    finally:
        a.close()
        b.close()


def scenario_auth_errors(ck, cfg):
    section("AUTH errors (TCP)")
    c = Conn("C", cfg.tcp_port, False)
    try:
        t, r = auth_request(c)
        ck.ok(r is not None and r.code == 401, "C: first AUTH -> 401")
        _, chal = parse_challenge(r.h("WWW-Authenticate"))
        note("challenge params: %s" % ", ".join(sorted(chal)))

        _, r = auth_request(c, authz=authorization(cfg.user, "wrong-" + cfg.password, chal, c.relay_uri))
        ck.ok(r is not None and r.code == 401 and r.h("WWW-Authenticate"),
              "C: wrong password -> 401 again, with a fresh challenge")
        if r is not None and r.h("WWW-Authenticate"):
            _, chal = parse_challenge(r.h("WWW-Authenticate"))

        _, r = auth_request(c, authz=authorization("nosuchuser", cfg.password, chal, c.relay_uri))
        ck.ok(r is not None and r.code == 403, "C: unknown user -> 403")

        _, r = auth_request(c, authz=authorization(cfg.user, cfg.password, chal, c.relay_uri,
                                                   include_uri=False))
        ck.ok(r is not None and r.code != 200, "C: Authorization without uri= is refused")
        note("-> %s" % (r.code if r else "no answer"))

        other = "msrp://127.0.0.1:%d/other;tcp" % cfg.tcp_port
        _, r = auth_request(c, authz=authorization(cfg.user, cfg.password, chal, other))
        note("uri= another (self-consistent) URI -> %s" % (r.code if r else "no answer"))
        ck.ok(r is not None, "C: AUTH with uri= another URI gets an answer")

        chal_md5 = dict(chal, algorithm="MD5")
        _, r = auth_request(c, authz=authorization(cfg.user, cfg.password, chal_md5, c.relay_uri))
        ck.ok(r is not None and r.code == 200, "C: Authorization with algorithm=MD5 added -> 200")

        # The same nonce and nc=00000001 again (nonce counts are not tracked).
        _, r = auth_request(c, authz=authorization(cfg.user, cfg.password, chal, c.relay_uri,
                                                   cnonce="fixedcnonce"))
        _, r2 = auth_request(c, authz=authorization(cfg.user, cfg.password, chal, c.relay_uri,
                                                    cnonce="fixedcnonce"))
        ck.ok(ok200(r) and ok200(r2), "C: the very same credentials replayed -> 200 again (no nc check)")

        _, r = auth_request(c, [("Expires", "30")])
        ck.ok(r is not None and r.code == 401,
              "C: Expires 30 without credentials -> 401 (credentials are checked first)")

        for val, want, hdr in (("30", 423, "Min-Expires"), ("7200", 423, "Max-Expires")):
            _, r = auth_request(c, [("Expires", val)],
                                authorization(cfg.user, cfg.password, chal, c.relay_uri))
            ck.ok(r is not None and r.code == want and r.h(hdr) is not None,
                  "C: Expires %s (with credentials) -> %d with %s" % (val, want, hdr))
            if r is not None and r.code == 401 and r.h("WWW-Authenticate"):
                _, chal = parse_challenge(r.h("WWW-Authenticate"))
        _, r = auth_request(c, [("Expires", "120")],
                            authorization(cfg.user, cfg.password, chal, c.relay_uri))
        ck.ok(r is not None and r.code == 200 and r.h("Expires") == "120",
              "C: Expires 120 (with credentials) -> 200, Expires 120")
        _, r = auth_request(c, [("Expires", "60")],
                            authorization(cfg.user, cfg.password, chal, c.relay_uri))
        ck.ok(r is not None and r.code == 200 and r.h("Expires") == "60",
              "C: Expires 60 (the minimum) -> 200, Expires 60")
        _, r = auth_request(c, [("Expires", "3600")],
                            authorization(cfg.user, cfg.password, chal, c.relay_uri))
        ck.ok(r is not None and r.code == 200 and r.h("Expires") == "3600",
              "C: Expires 3600 (the maximum) -> 200, Expires 3600")

        section("Requests the relay refuses (TCP)")
        bogus = "msrp://127.0.0.1:%d/%s;tcp" % (cfg.tcp_port, "deadbeef00")
        t, _, _ = send_chunk(c, "%s msrp://127.0.0.1:9/x;tcp" % bogus, "to nowhere")
        r = c.read()
        ck.ok(r is not None and r.code == 481, "C: SEND via an unknown session id -> 481")
        t, _, _ = send_chunk(c, c.relay_uri, "to the relay itself")
        r = c.read()
        ck.ok(r is not None and r.code >= 400, "C: SEND addressed to the relay itself -> error")
        note("-> %s" % (r.code if r else "no answer"))
        t = tid()
        c.send_raw(build(t, "FOO", [("To-Path", c.relay_uri), ("From-Path", c.uri)]))
        r = c.read()
        ck.ok(r is not None and r.code == 501, "C: unknown method addressed to the relay -> 501")
    finally:
        c.close()


def exact_send(c, to_path, frame_len, msg_id="sz"):
    """A SEND frame of exactly frame_len bytes (payload adjusted)."""
    n = max(0, frame_len - 400)
    for _ in range(5):
        raw = build(tid_fixed(frame_len), "SEND",
                    [("To-Path", to_path), ("From-Path", c.uri), ("Message-ID", msg_id),
                     ("Byte-Range", "1-%d/%d" % (n, n))],
                    b"x" * n, "$", "application/octet-stream")
        if len(raw) == frame_len:
            return raw, n
        n += frame_len - len(raw)
    raise RuntimeError("cannot build a %d-byte frame" % frame_len)


def tid_fixed(k):
    return "sz%08d" % k


def scenario_sizes(ck, cfg):
    section("Frame sizes (TCP -> TCP)")
    a = Conn("A", cfg.tcp_port)
    b = Conn("B", cfg.tcp_port)
    try:
        if not (ok200(do_auth(ck, a, cfg.user, cfg.password)) and ok200(do_auth(ck, b, cfg.user, cfg.password))):
            ck.ok(False, "size test: both clients authenticated")
            return
        to = path_to(a, b)
        note("frames below are built to an exact total size; transcript off for them")
        results = {}
        for flen in (8192 + 400, 10240 + 400, 11238, 11239, 12288 + 400, 65535, 65536):
            raw, n = exact_send(a, to, flen)
            a.send_raw(raw, quiet=True)
            r = a.read(timeout=1.5, quiet=True)
            fb = b.read(timeout=0.5, quiet=True)
            got = fb is not None and fb.method == "SEND" and len(fb.body or b"") == n
            if got:
                respond_quiet(b, fb)
            results[flen] = (r.code if r else None, got, a.closed)
            note("frame %5d bytes (payload %5d) -> A: %s; B: %s%s" %
                 (flen, n, ("%d %s" % (r.code, r.comment)) if r else "no answer",
                  "gets it" if got else "nothing", "; relay closed A's connection" if a.closed else ""))
            if a.closed:
                break
        ck.ok(results.get(8592) == (200, True, False), "8 KiB payload relayed")
        ck.ok(results.get(10640) == (200, True, False), "10 KiB payload relayed")
        ck.ok(results.get(11238) == (200, True, False), "11238-byte frame relayed (the largest)")
        ck.ok(results.get(11239) == (413, False, False), "11239-byte frame -> 413, not relayed")
        ck.ok(results.get(12688) == (413, False, False), "12 KiB payload -> 413, not relayed")
        ck.ok(results.get(65535) == (413, False, False), "65535-byte frame -> 413, connection kept")
        ck.ok(results.get(65536) == (None, False, True), "65536-byte frame -> connection closed, no answer")
    finally:
        a.close()
        b.close()

    section("After an oversize frame the sender's connection still relays (TCP)")
    a = Conn("A", cfg.tcp_port)
    b = Conn("B", cfg.tcp_port)
    try:
        if ok200(do_auth(ck, a, cfg.user, cfg.password)) and ok200(do_auth(ck, b, cfg.user, cfg.password)):
            raw, _ = exact_send(a, path_to(a, b), 12000)
            a.send_raw(raw, quiet=True)
            r = a.read(quiet=True)
            ck.ok(r is not None and r.code == 413, "12000-byte frame -> 413")
            send_chunk(a, path_to(a, b), "small one after the 413")
            r = a.read()
            fb = b.read()
            ck.ok(r is not None and r.code == 200 and fb is not None and fb.method == "SEND",
                  "next small SEND relayed")
    finally:
        a.close()
        b.close()


def ok200(r):
    return r is not None and r.code == 200


def scenario_burst(ck, cfg, a_tls, b_tls, n=120, size=8000):
    la = "TLS" if a_tls else "TCP"
    lb = "TLS" if b_tls else "TCP"
    section("Burst of %d x %d-byte chunks right after binding (%s -> %s)" % (n, size, la, lb))
    a = Conn("A", cfg.tls_port if a_tls else cfg.tcp_port, a_tls, cfg.cert)
    b = Conn("B", cfg.tls_port if b_tls else cfg.tcp_port, b_tls, cfg.cert)
    try:
        if not (ok200(do_auth(ck, a, cfg.user, cfg.password)) and ok200(do_auth(ck, b, cfg.user, cfg.password))):
            ck.ok(False, "burst: both clients authenticated")
            return
        to = path_to(a, b)
        mid = secrets.token_hex(6)
        total = n * size
        note("A writes all %d chunks without waiting (transcript off)" % n)
        t0 = time.monotonic()
        for i in range(n):
            body = bytes([65 + i % 26]) * size
            send_chunk(a, to, body, msg_id=mid,
                       byte_range="%d-%d/%d" % (i * size + 1, (i + 1) * size, total),
                       flag="$" if i == n - 1 else "+", quiet=True,
                       content_type="application/octet-stream")
        got = 0
        ok_order = True
        while got < n:
            f = b.read(timeout=5.0, quiet=True)
            if f is None:
                break
            if f.method == "SEND":
                exp = "%d-%d/%d" % (got * size + 1, (got + 1) * size, total)
                if f.h("Byte-Range") != exp:
                    ok_order = False
                got += 1
                respond_quiet(b, f)
        acks = 0
        while acks < n:
            r = a.read(timeout=2.0, quiet=True)
            if r is None:
                break
            if r.code == 200:
                acks += 1
        dt = time.monotonic() - t0
        note("B got %d/%d chunks, A got %d/%d 200s, %.2fs" % (got, n, acks, n, dt))
        ck.ok(got == n and ok_order, "B: all %d chunks arrive, in order (%s -> %s)" % (n, la, lb))
        ck.ok(acks == n, "A: %d 200s from the relay" % n)
    finally:
        a.close()
        b.close()


def respond_quiet(c, req):
    prev = req.h("From-Path").split()[0]
    c.send_raw(build(req.tid, "200 OK", [("To-Path", prev), ("From-Path", c.uri)]), quiet=True)


def scenario_disconnect(ck, cfg):
    section("One leg disconnects (A TCP, B TLS)")
    a = Conn("A", cfg.tcp_port)
    b = Conn("B", cfg.tls_port, True, cfg.cert)
    try:
        if not (ok200(do_auth(ck, a, cfg.user, cfg.password)) and ok200(do_auth(ck, b, cfg.user, cfg.password))):
            ck.ok(False, "disconnect: both clients authenticated")
            return
        to = path_to(a, b)
        send_chunk(a, to, "before B leaves")
        a.read()
        fb = b.read()
        if fb is not None:
            respond(b, fb)
        # A second AUTH on the same connection: a second, different Use-Path;
        # the first one keeps working.
        first_path = b.use_path
        ck.ok(ok200(do_auth(ck, b, cfg.user, cfg.password)) and b.use_path != first_path,
              "B: a second AUTH on the same connection -> 200 with a new Use-Path")
        old_to = "%s %s %s" % (a.use_path, first_path, b.uri)
        to = path_to(a, b)  # with B's second Use-Path
        send_chunk(a, old_to, "via B's first Use-Path")
        r = a.read()
        fb = b.read()
        ck.ok(r is not None and r.code == 200 and fb is not None and fb.method == "SEND",
              "A -> B via B's first Use-Path still works")
        if fb is not None:
            respond(b, fb)
        note("B closes its connection")
        b.close()
        f = a.expect_nothing(wait=0.8)
        ck.ok(f is None and not a.closed, "A: its connection stays open, nothing arrives")
        send_chunk(a, to, "after B left, via B's second Use-Path")
        r = a.read()
        ck.ok(r is not None and r.code >= 400, "A: SEND toward the departed B -> error response")
        note("-> %s" % ("%s %s" % (r.code, r.comment) if r else "no answer"))
        send_chunk(a, old_to, "after B left, via B's first Use-Path")
        r = a.read()
        ck.ok(r is not None and r.code == 481, "A: B's first Use-Path is dead too -> 481")
        ck.ok(not a.closed, "A: still connected afterwards")
        # B comes back on a new connection with its old session: old Use-Path is dead.
        b2 = Conn("B2", cfg.tls_port, True, cfg.cert)
        try:
            ck.ok(ok200(do_auth(ck, b2, cfg.user, cfg.password)), "B2: new AUTH on a new connection")
            send_chunk(a, path_to(a, b2), "to the new B")
            r = a.read()
            fb = b2.read()
            ck.ok(r is not None and r.code == 200 and fb is not None and fb.method == "SEND",
                  "A -> B2 works with B2's new Use-Path")
            if fb is not None:
                respond(b2, fb)
        finally:
            b2.close()
    finally:
        a.close()


# ---------------------------------------------------------------- main

def load_env(path):
    env = {}
    with open(path) as f:
        for line in f:
            k, _, v = line.strip().partition("=")
            if k:
                env[k] = v
    return env


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--env", help="relay.env written by kamailio.sh start")
    ap.add_argument("--tcp-port", type=int)
    ap.add_argument("--tls-port", type=int)
    ap.add_argument("--cert", help="relay certificate to verify against (default: no verification)")
    ap.add_argument("--user", default="alice")
    ap.add_argument("--password", default="secret")
    ap.add_argument("--only", help="comma list: tcp,tls,mixed,auth,sizes,burst,disconnect")
    cfg = ap.parse_args()

    started = None
    if cfg.env:
        e = load_env(cfg.env)
        cfg.tcp_port, cfg.tls_port = int(e["TCP_PORT"]), int(e["TLS_PORT"])
        cfg.cert, cfg.user, cfg.password = e["CERT"], e["USER"], e["PASSWORD"]
    elif not (cfg.tcp_port and cfg.tls_port):
        rundir = tempfile.mkdtemp(prefix="msrp-relay-smoke.")
        out = subprocess.run([os.path.join(HERE, "kamailio.sh"), "start", "--rundir", rundir,
                              "--user", cfg.user, "--password", cfg.password],
                             stdout=subprocess.PIPE, universal_newlines=True)
        print(out.stdout, end="")
        if out.returncode != 0:
            print("relay did not start")
            print("0 passed, 1 failed")
            return 1
        started = rundir
        e = load_env(os.path.join(rundir, "relay.env"))
        cfg.tcp_port, cfg.tls_port, cfg.cert = int(e["TCP_PORT"]), int(e["TLS_PORT"]), e["CERT"]

    only = set(cfg.only.split(",")) if cfg.only else None
    want = lambda k: only is None or k in only
    ck = Checks()
    t0 = time.monotonic()
    try:
        # First, while the relay has no connection to its own TLS port yet:
        # the burst then queues behind the relay's own TLS handshake.
        if want("burst"):
            scenario_burst(ck, cfg, False, True)
            scenario_burst(ck, cfg, True, True)
        if want("tcp"):
            scenario_pair(ck, cfg, False, False)
        if want("tls"):
            scenario_pair(ck, cfg, True, True)
        if want("mixed"):
            scenario_pair(ck, cfg, False, True, extra=False)
            scenario_pair(ck, cfg, True, False, extra=False)
        if want("auth"):
            scenario_auth_errors(ck, cfg)
        if want("sizes"):
            scenario_sizes(ck, cfg)
        if want("disconnect"):
            scenario_disconnect(ck, cfg)
    except Exception as exc:  # a crash of the test itself is a failure
        import traceback
        traceback.print_exc()
        ck.ok(False, "smoke test ran to the end (%s)" % exc)
    finally:
        if started:
            subprocess.run([os.path.join(HERE, "kamailio.sh"), "stop", "--rundir", started])
            log = os.path.join(started, "kamailio.log")
            if os.path.exists(log):
                with open(log, errors="replace") as f:
                    lines = f.readlines()
                # CRITICAL lines while shutting down ("receive_fd(): EOF on
                # N" as the workers go) are normal; before that they are not.
                stop_at = next((i for i, l in enumerate(lines)
                                if "Thank you for flying" in l or "signal 15 received" in l),
                               len(lines))
                crit = [l for i, l in enumerate(lines)
                        if re.search(r"exited by a signal|signal 11|segfault|core dump", l)
                        or (i < stop_at and "CRITICAL" in l)]
                ck.ok(not crit, "relay log has no crash (%s)" % log)
                for l in crit[:5]:
                    print("    " + l.rstrip())
    print("\nelapsed %.1fs" % (time.monotonic() - t0))
    if ck.failures:
        print("failed: " + "; ".join(ck.failures))
    print("%d passed, %d failed" % (ck.passed, ck.failed))
    return 0 if ck.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

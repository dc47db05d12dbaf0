#!/usr/bin/env python3
"""int_peer_bind_source_port* tests: `msrp-peer connect` against a passive
endpoint that matches connections to sessions as msrp-node-lib does by
default.

msrp-node-lib (a Node.js MSRP endpoint) takes an incoming connection as a
session's only when the connection's remote address and port are the ones
the peer's SDP path announced; any other connection is kept open and its
requests are buffered, unanswered, "until session socket is set". The
fixture here, AddressMatchingEndpoint, does the same: on the matching
connection it answers every SEND 200, reassembles the peer's messages and,
once the peer has bound, sends its own text and file; a connection from any
other address or port is held open and read, and nothing is ever written to
it. So `msrp-peer connect` binds with it only with --bind-source-port, and
the `unbound` case shows that without the option it does not.

usage: address_matching.py --peer PATH/TO/msrp-peer CASE
cases: bound, ports, unbound
"""
import argparse
import hashlib
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer_pair import TIMEOUT, Peer, check, make_file, sha256_file  # noqa: E402

CHUNK = 8192


class ProtocolError(Exception):
    pass


def parse_uri(uri):
    """(scheme, host, port, session id) of msrp://host:port/session;tcp."""
    scheme, rest = uri.split("://", 1)
    authority, _, resource = rest.partition("/")
    host, _, port = authority.rpartition(":")
    return scheme, host.strip("[]"), int(port), resource.split(";", 1)[0]


def take_chunks(buf):
    """Removes the whole chunks at the start of `buf` (a bytearray) and
    returns them as (first line words, headers dict with lower-case names,
    body bytes, continuation flag)."""
    out = []
    while True:
        nl = buf.find(b"\r\n")
        if nl < 0:
            return out
        words = bytes(buf[:nl]).decode("utf-8", "replace").split(" ", 2)
        if len(words) < 3 or words[0] != "MSRP":
            raise ProtocolError("not an MSRP start line: %r" % bytes(buf[:nl]))
        end = b"\r\n-------" + words[1].encode()
        # Without a body, the end-line follows the last header's CRLF.
        idx = buf.find(end, nl)
        if idx < 0 or len(buf) < idx + len(end) + 3:
            return out
        flag = chr(buf[idx + len(end)])
        if buf[idx + len(end) + 1:idx + len(end) + 3] != b"\r\n" or flag not in "$+#":
            raise ProtocolError("bad end-line")
        msg = bytes(buf[nl + 2:idx])
        del buf[:idx + len(end) + 3]
        head, sep, body = msg.partition(b"\r\n\r\n")
        headers = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        out.append((words, headers, body if sep else b"", flag))


class AddressMatchingEndpoint:
    """The passive side: listens on 127.0.0.1, matches by address and port."""

    def __init__(self, text, file_path):
        self.session_id = secrets.token_hex(8)
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.uri = "msrp://127.0.0.1:%d/%s;tcp" % (self.listener.getsockname()[1], self.session_id)
        self.text, self.file_path = text, file_path
        self.peer_uri = None
        self.expected = None          # (host, port) from the peer's path
        self.held = []                # [peer address, bytes buffered] of refused connections
        self.session_from = None      # the address of the session's connection
        self.bound = False
        self.messages = {}            # Message-ID -> dict(ct, data, total, done)
        self.sent = {}                # transaction id -> response code (None: waiting)
        self.errors = []
        self.closed = threading.Event()
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self._write_lock = threading.Lock()
        self._conn = None
        threading.Thread(target=self._accept_loop, daemon=True).start()

    def path_line(self):
        return "PATH " + self.uri

    def set_peer_path(self, line):
        """The peer's PATH line, as SDP would bring it."""
        uris = line.split()[1:]
        self.peer_uri = uris[-1]
        _, host, port, _ = parse_uri(uris[0])
        with self.lock:
            self.expected = (host, port)
            self.changed.notify_all()

    def _accept_loop(self):
        while True:
            try:
                conn, addr = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn, addr), daemon=True).start()

    def _serve(self, conn, addr):
        with self.lock:
            # Like msrp-node-lib, a connection may come before the session
            # is set up: wait for the peer's path (a few seconds at most).
            self.changed.wait_for(lambda: self.expected is not None, timeout=10)
            matches = self.expected == (addr[0], addr[1]) and self.session_from is None
            if matches:
                self.session_from = addr
                self._conn = conn
            else:
                entry = [addr, 0]
                self.held.append(entry)
        if not matches:
            # No session for this remote address: buffer, never answer.
            while True:
                try:
                    data = conn.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    break
                with self.lock:
                    entry[1] += len(data)
                    self.changed.notify_all()
            return
        buf = bytearray()
        try:
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                buf += data
                for chunk in take_chunks(buf):
                    self._handle(*chunk)
        except (OSError, ProtocolError) as e:
            with self.lock:
                self.errors.append("session connection: %s" % e)
        finally:
            with self.lock:
                self.closed.set()
                self.changed.notify_all()
            conn.close()

    def _write(self, data):
        with self._write_lock:
            self._conn.sendall(data)

    def _handle(self, words, headers, body, flag):
        tid, what = words[1], words[2]
        if what.split(" ", 1)[0].isdigit():
            with self.lock:
                if tid in self.sent:
                    self.sent[tid] = int(what.split(" ", 1)[0])
                    self.changed.notify_all()
            return
        if what != "SEND":
            return  # REPORTs and other requests need no answer here
        to_path = headers.get("to-path", "").split()
        from_path = headers.get("from-path", "").split()
        ok = to_path and parse_uri(to_path[-1])[3] == self.session_id and from_path == [self.peer_uri]
        code = "200 OK" if ok else "481 No such session"
        if headers.get("failure-report", "yes") != "no":
            self._write(("MSRP %s %s\r\nTo-Path: %s\r\nFrom-Path: %s\r\n-------%s$\r\n"
                         % (tid, code, " ".join(from_path), self.uri, tid)).encode())
        if not ok:
            with self.lock:
                self.errors.append("a SEND for another session: To-Path %s From-Path %s" % (to_path, from_path))
            return
        # Byte-Range: start-end/total, end and total possibly "*".
        rng = headers.get("byte-range", "1-*/*")
        start, total = int(rng.split("-", 1)[0]), rng.rpartition("/")[2]
        mid = headers.get("message-id", "")
        if not body and "content-type" not in headers:
            # The binding SEND (RFC 4975 §5.4): the session is up; send ours.
            if not self.bound:
                self.bound = True
                threading.Thread(target=self._send_ours, daemon=True).start()
            return
        with self.lock:
            m = self.messages.setdefault(mid, {"ct": headers.get("content-type", ""), "data": bytearray(),
                                               "total": None, "done": False, "received": 0})
            if total != "*":
                m["total"] = int(total)
            d = m["data"]
            if len(d) < start - 1 + len(body):
                d.extend(b"\0" * (start - 1 + len(body) - len(d)))
            d[start - 1:start - 1 + len(body)] = body
            m["received"] += len(body)
            if flag == "$" and m["total"] is not None and m["received"] == m["total"]:
                m["done"] = True
            self.changed.notify_all()

    def _request(self, mid, ct, data, start, total, last):
        tid = secrets.token_hex(6)
        with self.lock:
            self.sent[tid] = None
        head = ("MSRP %s SEND\r\nTo-Path: %s\r\nFrom-Path: %s\r\nMessage-ID: %s\r\n"
                "Byte-Range: %d-%d/%d\r\nContent-Type: %s\r\n\r\n"
                % (tid, self.peer_uri, self.uri, mid, start, start + len(data) - 1, total, ct))
        self._write(head.encode() + data + ("\r\n-------%s%s\r\n" % (tid, "$" if last else "+")).encode())

    def _send_ours(self):
        try:
            text = self.text.encode()
            self._request("fixtureText1", "text/plain", text, 1, len(text), True)
            if self.file_path is not None:
                size = os.path.getsize(self.file_path)
                with open(self.file_path, "rb") as f:
                    pos = 0
                    while pos < size:
                        data = f.read(CHUNK)
                        self._request("fixtureFile1", "application/x-fixture", data, pos + 1, size,
                                      pos + len(data) == size)
                        pos += len(data)
        except OSError as e:
            with self.lock:
                self.errors.append("sending: %s" % e)

    def message(self):
        """The complete messages received, as (Message-ID, content type, bytes)."""
        with self.lock:
            return [(mid, m["ct"], bytes(m["data"])) for mid, m in self.messages.items() if m["done"]]

    def wait_closed(self, timeout):
        return self.closed.wait(timeout)

    def close(self):
        self.listener.close()
        if self._conn is not None:
            try:
                self._conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def report(self):
        with self.lock:
            return ("--- address-matching endpoint %s\nexpected source %s, session connection from %s\n"
                    "held connections (address, bytes buffered): %s\nresponses to its sends: %s\n"
                    "messages: %s\nerrors: %s" % (
                        self.uri, self.expected, self.session_from, self.held,
                        sorted(set(self.sent.values()), key=str),
                        {k: (v["ct"], v["received"], v["total"], v["done"]) for k, v in self.messages.items()},
                        self.errors))


class Report:
    """Adapts the endpoint to check()'s report()."""

    def __init__(self, endpoint):
        self.endpoint = endpoint

    def report(self):
        return self.endpoint.report()


def run(cmd, connect_args, text, file_path=None, wait_for_close=True):
    """Starts `msrp-peer connect` against a new endpoint and runs both to the
    end. Returns (endpoint, peer)."""
    ep = AddressMatchingEndpoint(text, file_path)
    peer = Peer(cmd + ["connect"] + connect_args, "connect")
    try:
        check(peer.path_ready.wait(TIMEOUT) and peer.path is not None, "no PATH line", peer)
        ep.set_peer_path(peer.path)
        peer.send_path(ep.path_line())
        peer.wait()
        if wait_for_close and ep.session_from is not None:
            ep.wait_closed(30)
    finally:
        ep.close()
    return ep, peer


def path_port(peer):
    return parse_uri(peer.path.split()[1])[2]


def check_bound(ep, peer, port=None):
    """The peer bound from the port of its path, and nothing was refused."""
    r = Report(ep)
    check(peer.rc == 0 and peer.starting("BOUND"), "msrp-peer connect failed", peer, r)
    p = path_port(peer)
    check(p not in (0, 9) and (port is None or p == port), "PATH port %d (wanted %s)" % (p, port), peer)
    check(ep.session_from == ("127.0.0.1", p), "the session's connection came from the PATH's port", r, peer)
    check(ep.held == [] and ep.errors == [], "no connection refused, no error", r)
    check(all(code == 200 for code in ep.sent.values()) and ep.sent, "200 for every chunk it sent", r, peer)
    return p


def case_bound(cmd, tmp):
    """--bind-source-port (any port): chat and a file both ways."""
    src = os.path.join(tmp, "to-fixture.bin")
    make_file(src, 3 << 20)
    back = os.path.join(tmp, "to-peer.bin")
    make_file(back, (2 << 20) + 12345)
    out = os.path.join(tmp, "out")
    os.mkdir(out)
    text_in, text_out = "hello from msrp-peer", "hello from the address-matching endpoint"
    ep, peer = run(cmd, ["--bind-source-port", "--send-text", text_in, "--send-file", src,
                         "--content-type", "application/x-test", "--count", "2", "--out-dir", out,
                         "--no-progress", "--timeout", "60"], text_out, back)
    check_bound(ep, peer)
    r = Report(ep)
    got = ep.message()
    texts = [m for m in got if m[1] == "text/plain"]
    files = [m for m in got if m[1] == "application/x-test"]
    check(len(texts) == 1 and texts[0][2] == text_in.encode(), "the fixture got the text", r)
    check(len(files) == 1 and hashlib.sha256(files[0][2]).hexdigest() == sha256_file(src),
          "the fixture got the file (SHA-256)", r)
    check(sorted(s[2] for s in peer.starting("SENT")) == ["200", "200"], "two SENT 200", peer)
    rec = {l[1]: l for l in peer.starting("RECEIVED")}
    want_text = hashlib.sha256(text_out.encode()).hexdigest()
    check("fixtureText1" in rec and rec["fixtureText1"][2:] == ["text/plain", str(len(text_out)), want_text],
          "msrp-peer got the fixture's text", peer)
    want_file = sha256_file(back)
    check("fixtureFile1" in rec and rec["fixtureFile1"][2:] == ["application/x-fixture",
                                                                str(os.path.getsize(back)), want_file],
          "msrp-peer got the fixture's file", peer)
    check(sha256_file(os.path.join(out, "fixtureFile1")) == want_file, "the file in --out-dir", peer)


def free_ports(n):
    """n consecutive ports that nothing uses, below the ephemeral range."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, _ = (int(x) for x in f.read().split())
    except OSError:
        lo = 32768
    for _ in range(2000):
        base = 10000 + secrets.randbelow(max(1, min(lo, 30000) - 10000 - n))
        socks = []
        try:
            for p in range(base, base + n):
                s = socket.socket()
                socks.append(s)
                s.bind(("0.0.0.0", p))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise AssertionError("no %d consecutive free ports" % n)


def occupy(port):
    """A socket bound to the port without SO_REUSEADDR."""
    s = socket.socket()
    s.bind(("0.0.0.0", port))
    return s


def case_ports(cmd, tmp):
    """A range (its first two ports occupied), a single port, the --local
    port; a port in use and a full range fail at once with
    MSRP_RESULT_ADDRESS_IN_USE; usage errors."""
    base = free_ports(3)
    busy = [occupy(base), occupy(base + 1)]
    busy[1].listen(1)
    ep, peer = run(cmd, ["--bind-source-port", "%d-%d" % (base, base + 2), "--send-text", "via a range",
                         "--count", "1", "--timeout", "60"], "back through the range")
    check_bound(ep, peer, base + 2)
    check([m[2] for m in ep.message()] == [b"via a range"], "the fixture got the text", Report(ep))
    check(peer.starting("RECEIVED")[0][4] == hashlib.sha256(b"back through the range").hexdigest(),
          "msrp-peer got the fixture's text", peer)

    single = free_ports(1)
    ep, peer = run(cmd, ["--bind-source-port", str(single), "--send-text", "one port", "--count", "1",
                         "--timeout", "60"], "to one port")
    check_bound(ep, peer, single)

    given = free_ports(1)
    ep, peer = run(cmd, ["--local", "msrp://127.0.0.1:%d/givenlocal;tcp" % given, "--bind-source-port",
                         "--send-text", "given", "--count", "1", "--timeout", "60"], "to the given port")
    check_bound(ep, peer, given)
    check(peer.path.split()[1] == "msrp://127.0.0.1:%d/givenlocal;tcp" % given, "PATH is the --local URI", peer)

    # In use: the port of a bound socket, a range of occupied ports.
    for arg in (str(base), "%d-%d" % (base, base + 1)):
        p = subprocess.run(cmd + ["connect", "--bind-source-port", arg, "--send-text", "x", "--timeout", "30"],
                           capture_output=True, text=True, timeout=60, input="")
        check_text = p.stdout + p.stderr
        if not (p.returncode == 1 and "PATH" not in p.stdout and "MSRP_RESULT_ADDRESS_IN_USE" in p.stderr
                and str(base) in p.stderr):
            raise AssertionError("--bind-source-port %s with the port in use: exit %d\n%s"
                                 % (arg, p.returncode, check_text))
    for s in busy:
        s.close()

    for args in (["accept", "--bind-source-port"], ["connect", "--bind-source-port", "0"],
                 ["connect", "--bind-source-port", "20-10"], ["connect", "--bind-source-port", "70000"],
                 ["connect", "--bind-source-port", "5-"],
                 ["connect", "--relay", "msrp://127.0.0.1:1;tcp", "--user", "u", "--password", "p",
                  "--bind-source-port"]):
        p = subprocess.run(cmd + args, capture_output=True, text=True, timeout=30, input="")
        if p.returncode != 2:
            raise AssertionError("%s: exit %d, expected 2\n%s" % (args, p.returncode, p.stderr))


def case_unbound(cmd, tmp):
    """Without --bind-source-port the connection comes from another port
    than the PATH's (9): the fixture holds it and never answers, and
    msrp-peer's complete runs out of time. This is what makes the other
    cases prove something."""
    ep, peer = run(cmd, ["--send-text", "never bound", "--timeout", "5"], "unused")
    r = Report(ep)
    check(path_port(peer) == 9, "PATH advertises port 9", peer)
    check(peer.rc == 1 and not peer.starting("BOUND"), "msrp-peer must not bind", peer, r)
    check(ep.session_from is None and len(ep.held) == 1, "one connection held, none taken", r, peer)
    check(ep.held[0][0][1] != 9 and ep.held[0][1] > 0, "it came from another port and sent its binding", r)
    check(not ep.sent, "nothing was sent to the held connection", r)


CASES = {"bound": case_bound, "ports": case_ports, "unbound": case_unbound}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--peer", required=True)
    ap.add_argument("case", choices=sorted(CASES))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="msrp-addr-") as tmp:
        try:
            CASES[args.case]([args.peer], tmp)
        except AssertionError as e:
            print("FAIL %s: %s" % (args.case, e))
            return 1
    print("PASS %s" % args.case)
    return 0


if __name__ == "__main__":
    sys.exit(main())

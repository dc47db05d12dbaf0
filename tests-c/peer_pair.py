#!/usr/bin/env python3
"""int_ tests: two msrp-peer processes talking over loopback.

Each peer's PATH line is written to the other's stdin (the SDP exchange a
SIP stack would do), then both run to completion and their stdout lines are
checked against the msrp-peer contract (DESIGN.md).

usage: peer_pair.py --peer PATH/TO/msrp-peer [--wrap "valgrind ..."] CASE
cases: text, file, tls, tls-ca, tls-wrong-fingerprint, resume, disk-full,
usage, relay, relay-fault, relay-openssl-cert, relay-ws, relay-wss (the
relay cases start Kamailio with tests/relay/kamailio.sh; exit 77, a skip,
when Kamailio or, for relay-ws/relay-wss, its websocket module is not
installed)
"""
import argparse
import hashlib
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time

TIMEOUT = 120


class Peer:
    def __init__(self, cmd, name, preexec_fn=None):
        self.name = name
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, preexec_fn=preexec_fn,
                                     restore_signals=preexec_fn is None)
        self.lines = []
        self.stderr = ""
        self.path_ready = threading.Event()
        self.path = None
        self._out = threading.Thread(target=self._read_out, daemon=True)
        self._err = threading.Thread(target=self._read_err, daemon=True)
        self._out.start()
        self._err.start()

    def _read_out(self):
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            self.lines.append(line)
            if line.startswith("PATH ") and self.path is None:
                self.path = line
                self.path_ready.set()
        self.path_ready.set()

    def _read_err(self):
        self.stderr = self.proc.stderr.read()

    def send_path(self, line):
        try:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            pass

    def wait(self):
        try:
            rc = self.proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self._out.join()
        self._err.join()
        self.rc = rc
        return rc

    def report(self):
        return "--- %s (exit %s)\nstdout:\n%s\nstderr:\n%s" % (
            self.name, self.rc, "\n".join(self.lines), self.stderr[-4000:])

    def starting(self, word):
        return [l.split() for l in self.lines if l.startswith(word + " ") or l == word]


def run_pair(peer_cmd, accept_args, connect_args):
    a = Peer(peer_cmd + ["accept"] + accept_args, "accept")
    c = Peer(peer_cmd + ["connect"] + connect_args, "connect")
    for p in (a, c):
        if not p.path_ready.wait(TIMEOUT) or p.path is None:
            for q in (a, c):
                q.proc.kill()
                q.wait()
            raise AssertionError("no PATH line\n" + a.report() + "\n" + c.report())
    a.send_path(c.path)
    c.send_path(a.path)
    a.wait()
    c.wait()
    return a, c


def check(cond, what, *peers):
    if not cond:
        raise AssertionError(what + "\n" + "\n".join(p.report() for p in peers))


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def make_file(path, size):
    # Deterministic, incompressible-looking content.
    block = hashlib.sha256(b"libmsrp").digest() * 2048  # 64 KiB
    with open(path, "wb") as f:
        left = size
        i = 0
        while left > 0:
            piece = bytes((b + i) & 0xFF for b in block[:min(left, len(block))]) if i % 7 == 0 else block[:min(left, len(block))]
            f.write(piece)
            left -= len(piece)
            i += 1


def case_text(cmd, tmp):
    a, c = run_pair(cmd,
                    ["--send-text", "hello from accept", "--count", "2"],
                    ["--send-text", "hello from connect", "--send-text", "second \u00e9t\u00e9", "--count", "1"])
    for p in (a, c):
        check(p.rc == 0, "%s failed" % p.name, a, c)
        check(p.starting("BOUND"), "no BOUND", p)
        check(p.lines[-1].startswith("CLOSED "), "last line is not CLOSED", p)
    check(len(a.starting("RECEIVED")) == 2 and len(c.starting("RECEIVED")) == 1, "RECEIVED counts", a, c)
    want = hashlib.sha256("hello from connect".encode()).hexdigest()
    got = [r for r in a.starting("RECEIVED")]
    check(any(r[2] == "text/plain" and r[4] == want and r[3] == "18" for r in got), "digest of text", a)
    check([s[2] for s in c.starting("SENT")] == ["200", "200"], "two SENT 200 on connect", c)
    check([s[2] for s in a.starting("SENT")] == ["200"], "SENT 200 on accept", a)


def case_file(cmd, tmp, size=50 << 20, chunk=None):
    src = os.path.join(tmp, "big.bin")
    make_file(src, size)
    out = os.path.join(tmp, "out")
    os.mkdir(out)
    extra = ["--chunk-size", str(chunk)] if chunk else []
    a, c = run_pair(cmd,
                    ["--count", "1", "--out-dir", out, "--no-progress"],
                    ["--send-file", src, "--content-type", "application/x-test", "--no-progress"] + extra)
    check(a.rc == 0 and c.rc == 0, "file transfer failed", a, c)
    rec = a.starting("RECEIVED")
    want = sha256_file(src)
    check(len(rec) == 1 and rec[0][2] == "application/x-test" and rec[0][3] == str(size) and rec[0][4] == want,
          "RECEIVED line of the file", a)
    check(sha256_file(os.path.join(out, rec[0][1])) == want, "file in --out-dir differs", a)
    check(c.starting("SENT") == [["SENT", rec[0][1], "200"]], "SENT line", c)


def case_disk_full(cmd, tmp):
    """The receiver's disk fills up (a file size limit of 256 KiB) during a
    64 MiB file: it reports the failure, refuses the rest of the message with
    413, and the sender learns which message failed; both exit 1, nobody
    hangs. (The file is large so that the refusal comes before the sender is
    done: the library answers 200 to what it has taken, and up to its event
    queue's 16 MiB, plus socket buffers, can be taken before the
    application's first failing write; with 4 MiB the whole file was
    sometimes acknowledged first.)"""
    src = os.path.join(tmp, "big.bin")
    make_file(src, 64 << 20)
    out = os.path.join(tmp, "out")
    os.mkdir(out)
    limit = 256 << 10

    def small_files():
        import resource
        import signal
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    a = Peer(cmd + ["accept", "--count", "1", "--out-dir", out, "--no-progress"], "accept",
             preexec_fn=small_files)
    c = Peer(cmd + ["connect", "--send-file", src, "--no-progress"], "connect")
    for p in (a, c):
        check(p.path_ready.wait(TIMEOUT) and p.path is not None, "no PATH line", a, c)
    a.send_path(c.path)
    c.send_path(a.path)
    a.wait()
    c.wait()
    check(a.rc == 1 and "cannot write" in a.stderr and "413" in a.stderr,
          "the receiver reports the failure and the refusal", a, c)
    check(not a.starting("RECEIVED"), "no RECEIVED for the refused file", a)
    sent = c.starting("SENT")
    check(c.rc == 1 and len(sent) == 1 and sent[0][2] == "413", "the sender learns 413 for its file", a, c)
    files = os.listdir(out)
    check(len(files) == 1 and files[0] == sent[0][1] and os.path.getsize(os.path.join(out, files[0])) <= limit,
          "the partial file, at most the size limit", a)


def tls_files(tmp, name):
    cert, key = os.path.join(tmp, name + ".crt"), os.path.join(tmp, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True)
    fp = subprocess.run(["openssl", "x509", "-in", cert, "-noout", "-fingerprint", "-sha256"],
                        check=True, capture_output=True, text=True).stdout.strip().split("=", 1)[1]
    return cert, key, fp


def tls_pair(cmd, tmp, wrong):
    scert, skey, sfp = tls_files(tmp, "server")
    ccert, ckey, cfp = tls_files(tmp, "client")
    _, _, otherfp = tls_files(tmp, "other")
    a = Peer(cmd + ["accept", "--tls", "--cert", scert, "--key", skey, "--fingerprint", cfp,
                    "--send-text", "secret reply", "--count", "1", "--timeout", "20"], "accept")
    c = Peer(cmd + ["connect", "--tls", "--cert", ccert, "--key", ckey,
                    "--fingerprint", "sha-256 " + (otherfp if wrong else sfp.lower()),
                    "--send-text", "secret hello", "--count", "1", "--timeout", "20"], "connect")
    for p in (a, c):
        p.path_ready.wait(TIMEOUT)
    a.send_path(c.path or "PATH none")
    c.send_path(a.path or "PATH none")
    c.wait()
    if wrong:
        a.proc.kill()
    a.wait()
    check(a.starting("FINGERPRINT") == [["FINGERPRINT", sfp]], "accept FINGERPRINT is the cert's", a)
    check(c.starting("FINGERPRINT") == [["FINGERPRINT", cfp]], "connect FINGERPRINT is the cert's", c)
    check(a.path.split()[1].startswith("msrps://") and c.path.split()[1].startswith("msrps://"), "msrps paths", a, c)
    return a, c


def case_tls(cmd, tmp):
    a, c = tls_pair(cmd, tmp, wrong=False)
    check(a.rc == 0 and c.rc == 0, "TLS pair failed", a, c)
    check(len(a.starting("RECEIVED")) == 1 and len(c.starting("RECEIVED")) == 1, "messages over TLS", a, c)


def openssl_req_x509(tmp, name, san="IP:127.0.0.1"):
    """A certificate as relays and PBXs are usually set up: `openssl req
    -x509 -newkey rsa:2048 -nodes -subj /CN=relay -addext subjectAltName=...
    -days 30`, which sets basic constraints CA:TRUE. Returns (cert, key)."""
    cert, key = os.path.join(tmp, name + ".pem"), os.path.join(tmp, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=relay",
                    "-addext", "subjectAltName=" + san, "-keyout", key, "-out", cert, "-days", "30"],
                   check=True, capture_output=True)
    text = subprocess.run(["openssl", "x509", "-in", cert, "-noout", "-text"],
                          check=True, capture_output=True, text=True).stdout
    check("CA:TRUE" in text, "the openssl req -x509 certificate has CA:TRUE:\n" + text)
    return cert, key


def chat_and_file_args(tmp, name, size):
    """msrp-peer options sending a text and a file of `size` bytes, and
    receiving two messages into an --out-dir; returns (args, text, file)."""
    src = os.path.join(tmp, name + ".bin")
    make_file(src, size)
    out = os.path.join(tmp, name + "-in")
    os.mkdir(out)
    text = "chat from %s \u00e9" % name
    args = ["--send-text", text, "--send-file", src, "--count", "2", "--out-dir", out, "--no-progress"]
    return args, text, src, out


def check_received(receiver, out, text, src, what):
    """`receiver` (an msrp-peer) got `text` and the file `src`, both whole."""
    rec = receiver.starting("RECEIVED")
    check(len(rec) == 2, "%s: two RECEIVED lines" % what, receiver)
    want_text = hashlib.sha256(text.encode()).hexdigest()
    want_file = sha256_file(src)
    texts = [r for r in rec if r[2] == "text/plain"]
    files = [r for r in rec if r[2] == "application/octet-stream"]
    check(len(texts) == 1 and texts[0][3] == str(len(text.encode())) and texts[0][4] == want_text,
          "%s: the text" % what, receiver)
    check(len(files) == 1 and files[0][3] == str(os.path.getsize(src)) and files[0][4] == want_file,
          "%s: the file" % what, receiver)
    check(sha256_file(os.path.join(out, files[0][1])) == want_file, "%s: the file in --out-dir" % what, receiver)


def case_tls_ca(cmd, tmp):
    """Direct msrps where the server's certificate is an `openssl req -x509`
    one (CA:TRUE) and the client trusts it with --ca, no fingerprint: a text
    and a file both ways. The same with another certificate as --ca fails
    the handshake, before any PATH is bound."""
    cert, key = openssl_req_x509(tmp, "server")
    a_args, a_text, a_src, a_out = chat_and_file_args(tmp, "accept", 1 << 20)
    c_args, c_text, c_src, c_out = chat_and_file_args(tmp, "connect", 1 << 20)
    a, c = run_pair(cmd, ["--tls", "--cert", cert, "--key", key, "--timeout", "60"] + a_args,
                    ["--tls", "--ca", cert, "--timeout", "60"] + c_args)
    check(a.rc == 0 and c.rc == 0, "the pair with --ca the openssl req -x509 certificate", a, c)
    check(a.path.split()[1].startswith("msrps://"), "msrps", a)
    check_received(a, a_out, c_text, c_src, "accept")
    check_received(c, c_out, a_text, a_src, "connect")

    other, _ = openssl_req_x509(tmp, "other")
    a = Peer(cmd + ["accept", "--tls", "--cert", cert, "--key", key, "--timeout", "20"], "accept")
    c = Peer(cmd + ["connect", "--tls", "--ca", other, "--send-text", "x", "--timeout", "20"], "connect")
    for p in (a, c):
        p.path_ready.wait(TIMEOUT)
    a.send_path(c.path or "PATH none")
    c.send_path(a.path or "PATH none")
    c.wait()
    a.proc.kill()
    a.wait()
    check(c.rc == 1 and not c.starting("BOUND") and "not trusted" in c.stderr,
          "another certificate as --ca: the handshake fails", c)


def case_ws(cmd, tmp, secure):
    """Two msrp-peers over WebSocket (RFC 7977), ws or wss (TLS with the
    server's `openssl req -x509` certificate as the client's --ca): a text
    and a 2 MiB file each way, SHA-256 checked; both PATH lines carry ;ws,
    the connecting side's a .invalid host (RFC 7977 §5.2)."""
    tls_a, tls_c = [], []
    if secure:
        cert, key = openssl_req_x509(tmp, "server")
        tls_a = ["--tls", "--cert", cert, "--key", key]
        tls_c = ["--tls", "--ca", cert]
    a_args, a_text, a_src, a_out = chat_and_file_args(tmp, "accept", 2 << 20)
    c_args, c_text, c_src, c_out = chat_and_file_args(tmp, "connect", 2 << 20)
    a, c = run_pair(cmd, ["--ws", "--timeout", "60"] + tls_a + a_args,
                    ["--ws", "--timeout", "60"] + tls_c + c_args)
    check(a.rc == 0 and c.rc == 0, "the pair over %s" % ("wss" if secure else "ws"), a, c)
    scheme = "msrps://" if secure else "msrp://"
    a_uri, c_uri = a.path.split()[1], c.path.split()[1]
    check(a_uri.startswith(scheme) and a_uri.endswith(";ws"), "accept PATH is a ws URI", a)
    check(c_uri.startswith(scheme) and c_uri.endswith(";ws") and ".invalid:" in c_uri,
          "connect PATH is a ws URI on a .invalid host", c)
    check_received(a, a_out, c_text, c_src, "accept")
    check_received(c, c_out, a_text, a_src, "connect")
    # A TCP connector cannot bind to a WebSocket-only listener.
    a = Peer(cmd + ["accept", "--ws", "--timeout", "10"], "accept")
    c = Peer(cmd + ["connect", "--send-text", "x", "--timeout", "10"], "connect")
    for p in (a, c):
        p.path_ready.wait(TIMEOUT)
    tcp_path = a.path.replace(";ws", ";tcp") if a.path else "PATH none"
    a.send_path(c.path or "PATH none")
    c.send_path(tcp_path)
    c.wait()
    a.proc.kill()
    a.wait()
    check(c.rc != 0 and not c.starting("BOUND"), "TCP to a WebSocket listener does not bind", a, c)


def case_tls_wrong_fingerprint(cmd, tmp):
    a, c = tls_pair(cmd, tmp, wrong=True)
    check(c.rc == 1, "connect with a wrong fingerprint must exit 1", c)
    check(not c.starting("BOUND") and not c.starting("SENT"), "nothing may be bound or sent", c)
    check("fingerprint" in c.stderr.lower(), "the reason names the fingerprint", c)


def case_resume(cmd, tmp):
    size, start = 3 << 20, (1 << 20) + 12345
    src = os.path.join(tmp, "whole.bin")
    make_file(src, size)
    head = os.path.join(tmp, "head.bin")
    with open(src, "rb") as f, open(head, "wb") as g:
        g.write(f.read(start))
    out = os.path.join(tmp, "out")
    os.mkdir(out)
    mid = "resume0message1"
    # First session: only the first `start` bytes arrive, under the message id.
    a, c = run_pair(cmd, ["--count", "1", "--out-dir", out],
                    ["--send-file", head, "--message-id", mid])
    check(a.rc == 0 and c.rc == 0, "first part failed", a, c)
    # Second session: python-msrplib's resume continues at byte `start`.
    a, c = run_pair(cmd, ["--count", "1", "--out-dir", out],
                    ["--send-file", src, "--start", str(start), "--message-id", mid])
    check(a.rc == 0 and c.rc == 0, "resume failed", a, c)
    check(c.starting("SENT") == [["SENT", mid, "200"]], "SENT of the resumed message", c)
    rec = a.starting("RECEIVED")
    want = sha256_file(src)
    check(len(rec) == 1 and rec[0][1] == mid and rec[0][3] == str(size - start), "RECEIVED of the rest", a)
    check(rec[0][4] == want and sha256_file(os.path.join(out, mid)) == want, "resumed file differs", a)


RELAY_SH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "relay", "kamailio.sh")


class Skip(Exception):
    pass


def start_relay(extra=()):
    p = subprocess.run([RELAY_SH, "start", "--watch-pid", str(os.getpid())] + list(extra),
                       capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        if "kamailio not found" in p.stderr or "websocket module is missing" in p.stderr:
            raise Skip(p.stderr.strip())
        raise AssertionError("relay did not start:\n" + p.stderr)
    return dict(l.split("=", 1) for l in p.stdout.splitlines() if "=" in l)


def relay_log_tail(relay, lines=40):
    """The last lines of the relay's log, for a failure's report."""
    try:
        with open(relay["LOG"], errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError as e:
        return "(no relay log: %s)" % e


def case_relay(cmd, tmp):
    relay = start_relay()
    try:
        auth = ["--user", relay["USER"], "--password", relay["PASSWORD"], "--timeout", "60"]
        # 1. connect through the relay over plain TCP (msrp://, the explicit
        #    opt-in) to a peer that accepts directly; text both ways.
        a, c = run_pair(cmd,
                        ["--send-text", "hello from accept", "--count", "1", "--timeout", "60"],
                        ["--relay", relay["TCP_URI"], "--send-text", "hello via relay", "--count", "1"] + auth)
        for p in (a, c):
            check(p.rc == 0, "%s failed (relay TCP to direct)" % p.name, a, c)
            check(p.starting("BOUND") and len(p.starting("RECEIVED")) == 1, "BOUND and one RECEIVED", p)
            check([s[2] for s in p.starting("SENT")] == ["200"], "SENT 200", p)
        check(c.path.split()[1].startswith("msrp://127.0.0.1:%s" % relay["TCP_PORT"]) and len(c.path.split()) == 3,
              "the connect PATH is the relay, then the local URI", c)
        want = hashlib.sha256(b"hello via relay").hexdigest()
        check(a.starting("RECEIVED")[0][4] == want, "digest of the text through the relay", a)

        # 2. both sides through the relay over TLS (--ca the relay's
        #    certificate), a 2 MB file with success reports.
        size = 2 << 20
        src = os.path.join(tmp, "relay.bin")
        make_file(src, size)
        out = os.path.join(tmp, "relay-out")
        os.mkdir(out)
        tls = ["--relay", relay["TLS_URI"], "--ca", relay["CERT"]] + auth
        a, c = run_pair(cmd,
                        tls + ["--count", "1", "--out-dir", out, "--no-progress"],
                        tls + ["--send-file", src, "--success-report", "yes", "--no-progress"])
        check(a.rc == 0 and c.rc == 0, "file through the relay over TLS failed", a, c)
        for p in (a, c):
            check(p.path.split()[1].startswith("msrps://127.0.0.1:%s" % relay["TLS_PORT"]),
                  "the PATH starts with the TLS relay", p)
        rec = a.starting("RECEIVED")
        want = sha256_file(src)
        check(len(rec) == 1 and rec[0][3] == str(size) and rec[0][4] == want, "RECEIVED line of the file", a)
        check(sha256_file(os.path.join(out, rec[0][1])) == want, "file in --out-dir differs", a)
        check(c.starting("SENT") == [["SENT", rec[0][1], "200"]], "SENT 200 (the relay's hop-by-hop 200)", c)
        reports = c.starting("REPORT")
        check(reports and all(r[1] == rec[0][1] and r[2] == "200" for r in reports), "REPORT 200 lines", c)
        check(reports[-1][3].endswith("-%d/%d" % (size, size)), "the last REPORT covers the whole file", c)

        # 3. a wrong password fails in prepare, before any PATH line.
        p = subprocess.run(cmd + ["connect", "--relay", relay["TCP_URI"], "--user", relay["USER"],
                                  "--password", "wrong", "--timeout", "30"],
                           capture_output=True, text=True, timeout=60, input="")
        check(p.returncode == 1 and "PATH" not in p.stdout, "a wrong password must exit 1 without PATH:\n"
              + p.stdout + p.stderr)

        # 4. --fingerprint instead of --ca verifies the msrps relay: the right
        #    one authenticates (PATH printed), a wrong one fails the handshake.
        relay_fp = subprocess.run(["openssl", "x509", "-in", relay["CERT"], "-noout", "-fingerprint", "-sha256"],
                                  check=True, capture_output=True, text=True).stdout.strip().split("=", 1)[1]
        _, _, other_fp = tls_files(tmp, "other")
        for fp, ok in ((relay_fp, True), (other_fp, False)):
            p = subprocess.run(cmd + ["accept", "--relay", relay["TLS_URI"], "--fingerprint", fp] + auth,
                               capture_output=True, text=True, timeout=60, input="")
            has_path = any(l.startswith("PATH msrps://127.0.0.1:%s" % relay["TLS_PORT"]) for l in p.stdout.splitlines())
            check(p.returncode == 1 and has_path == ok and (ok or "fingerprint" in p.stderr.lower()),
                  "relay fingerprint %s: PATH %s expected\n%s%s" % (fp, ok, p.stdout, p.stderr))
    except AssertionError as e:
        raise AssertionError("%s\n--- relay log (last lines)\n%s" % (e, relay_log_tail(relay)))
    finally:
        subprocess.run([RELAY_SH, "stop", "--rundir", relay["RUNDIR"]], capture_output=True, timeout=60)


def case_relay_fault(cmd, tmp):
    """A 64 MiB file through the relay; the relay is killed once the
    receiver has written 1 MiB. Both peers must fail with a CLOSED line (no
    RECEIVED, no REPORT), the sender listing the file as unfinished with
    fewer octets acknowledged than its size. Then the relay restarts on the
    same ports and a fresh pair of peers gets a text through it.

    The receiver is stopped (SIGSTOP) while the relay is killed: what it can
    still read afterwards is then bounded by the socket buffers between it
    and the relay (its 4 MiB receive buffer, 8 MiB as Linux counts it, and
    the relay's send buffer), not by how soon this script gets to run. With
    20 MB and no stop, a receiver that kept running on a busy machine once
    got the whole file before the kill."""
    relay = start_relay()
    try:
        auth = ["--relay", relay["TCP_URI"], "--user", relay["USER"], "--password", relay["PASSWORD"],
                "--timeout", "60", "--no-progress"]
        size = 64 << 20
        src = os.path.join(tmp, "fault.bin")
        make_file(src, size)
        out = os.path.join(tmp, "fault-out")
        os.mkdir(out)
        a = Peer(cmd + ["accept", "--count", "1", "--out-dir", out] + auth, "accept")
        c = Peer(cmd + ["connect", "-v", "--send-file", src, "--success-report", "yes"] + auth, "connect")
        for p in (a, c):
            check(p.path_ready.wait(TIMEOUT) and p.path is not None, "no PATH line", a, c)
        a.send_path(c.path)
        c.send_path(a.path)
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            sizes = [os.path.getsize(os.path.join(out, f)) for f in os.listdir(out)]
            if any(s >= 1 << 20 for s in sizes) or a.proc.poll() is not None:
                break
            time.sleep(0.005)
        check(a.proc.poll() is None, "the receiver ended before the relay was killed", a, c)
        a.proc.send_signal(signal.SIGSTOP)
        try:
            # SIGKILL the relay's process group at once (the script's stop
            # takes longer, and a release build moves megabytes meanwhile),
            # then let the script clean up.
            try:
                os.killpg(int(relay["PID"]), signal.SIGKILL)
            except ProcessLookupError:
                pass
            subprocess.run([RELAY_SH, "stop", "--fast", "--rundir", relay["RUNDIR"]], capture_output=True, timeout=60)
        finally:
            a.proc.send_signal(signal.SIGCONT)
        a.wait()
        c.wait()
        check(a.rc == 1 and c.rc == 1, "both peers must fail when the relay dies", a, c)
        for p in (a, c):
            closed = p.starting("CLOSED")
            check(len(closed) == 1 and closed[0][1] in ("error", "peer"), "one CLOSED error|peer line", p)
        check(not a.starting("RECEIVED"), "no RECEIVED for a file the relay lost", a)
        check(not c.starting("REPORT"), "no REPORT for a file the relay lost", c)
        sent = c.starting("SENT")
        check(len(sent) == 1, "one SENT line (the relay's 200 or 0)", c)
        unfinished = [l for l in c.stderr.splitlines() if "unfinished outgoing message " + sent[0][1] in l]
        check(len(unfinished) == 1, "the sender lists the file as unfinished", c)
        acked = int(unfinished[0].split(": ")[-1].split()[0])
        check(acked < size, "fewer octets acknowledged than the file's size", c)

        # Restarted on the same ports: a fresh pair through it works.
        p = subprocess.run([RELAY_SH, "start", "--rundir", relay["RUNDIR"], "--tcp-port", relay["TCP_PORT"],
                            "--tls-port", relay["TLS_PORT"], "--watch-pid", str(os.getpid())],
                           capture_output=True, text=True, timeout=60)
        check(p.returncode == 0, "relay restart failed:\n" + p.stderr)
        a, c = run_pair(cmd, ["--count", "1"] + auth, ["--send-text", "after the restart", "--success-report", "yes"] + auth)
        check(a.rc == 0 and c.rc == 0, "a fresh pair through the restarted relay", a, c)
        check(a.starting("RECEIVED")[0][4] == hashlib.sha256(b"after the restart").hexdigest(),
              "the text through the restarted relay", a)
    finally:
        subprocess.run([RELAY_SH, "stop", "--fast", "--rundir", relay["RUNDIR"]], capture_output=True, timeout=60)


def case_relay_openssl_cert(cmd, tmp):
    """The relay's TLS certificate made by `openssl req -x509` (CA:TRUE, SAN
    IP:127.0.0.1), given to both msrp-peers as --ca: a text and a file both
    ways through Kamailio over TLS. Another such certificate as --ca is
    refused in the handshake to the relay."""
    cert, key = openssl_req_x509(tmp, "relay")
    relay = start_relay(["--cert", cert, "--key", key])
    try:
        check(relay["CERT"] == os.path.abspath(cert), "the relay uses the given certificate")
        tls = ["--relay", relay["TLS_URI"], "--ca", cert, "--user", relay["USER"], "--password",
               relay["PASSWORD"], "--timeout", "60"]
        a_args, a_text, a_src, a_out = chat_and_file_args(tmp, "accept", 1 << 20)
        c_args, c_text, c_src, c_out = chat_and_file_args(tmp, "connect", 1 << 20)
        a, c = run_pair(cmd, tls + a_args, tls + c_args)
        check(a.rc == 0 and c.rc == 0, "both through the TLS relay with --ca its openssl certificate", a, c)
        for p in (a, c):
            check(p.path.split()[1].startswith("msrps://127.0.0.1:%s" % relay["TLS_PORT"]),
                  "the PATH starts with the TLS relay", p)
            check([s[2] for s in p.starting("SENT")] == ["200", "200"], "two SENT 200", p)
        check_received(a, a_out, c_text, c_src, "accept")
        check_received(c, c_out, a_text, a_src, "connect")

        other, _ = openssl_req_x509(tmp, "other")
        p = subprocess.run(cmd + ["accept"] + tls[:2] + ["--ca", other] + tls[4:],
                           capture_output=True, text=True, timeout=60, input="")
        check(p.returncode == 1 and "PATH" not in p.stdout and "not trusted" in p.stderr,
              "another certificate as --ca must fail before PATH:\n" + p.stdout + p.stderr)
    except AssertionError as e:
        raise AssertionError("%s\n--- relay log (last lines)\n%s" % (e, relay_log_tail(relay)))
    finally:
        subprocess.run([RELAY_SH, "stop", "--rundir", relay["RUNDIR"]], capture_output=True, timeout=60)


def ws_client_module():
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "relay"))
    import msrp_ws
    return msrp_ws


def relay_ws_session(cmd, tmp, secure):
    """A test-only MSRP-over-WebSocket client (tests/relay/msrp_ws.py, as a
    browser would be: `.invalid` host and `ws` transport in its URI) and a
    plain msrp-peer, both on one Kamailio: the WebSocket client AUTHs over
    ws (or wss), the msrp-peer over TCP (or TLS); a text and a 1 MiB file
    each way, bodies and hashes checked on both sides.

    ws: the msrp-peer accepts and the WebSocket client sends first (it binds
    the session); wss: the msrp-peer connects and binds."""
    msrp_ws = ws_client_module()
    relay = start_relay(["--wss-port" if secure else "--ws-port", "0"])
    client = None
    peer = None
    try:
        port = int(relay["WSS_PORT" if secure else "WS_PORT"])
        ws = msrp_ws.WebSocket("127.0.0.1", port, cafile=relay["CERT"] if secure else None)
        check(ws.accepted and ws.headers.get("sec-websocket-protocol") == "msrp",
              "the relay accepts the WebSocket with the msrp subprotocol:\n" + ws.response)
        client = msrp_ws.MsrpWsClient(ws, relay["WSS_URI" if secure else "WS_URI"])
        check(client.local_uri.endswith(";ws") and ".invalid:" in client.local_uri, "a browser's URI")
        use_path = client.auth(relay["USER"], relay["PASSWORD"])
        want_scheme, want_port = ("msrps", relay["TLS_PORT"]) if secure else ("msrp", relay["TCP_PORT"])
        check(len(use_path) == 1 and use_path[0].startswith("%s://127.0.0.1:%s/" % (want_scheme, want_port))
              and use_path[0].endswith(";tcp"),
              "the Use-Path is on the relay's MSRP port: %s" % use_path)

        size = 1 << 20
        p_args, p_text, p_src, p_out = chat_and_file_args(tmp, "peer", size)
        leg = (["--relay", relay["TLS_URI"], "--ca", relay["CERT"]] if secure
               else ["--relay", relay["TCP_URI"]])
        role = "connect" if secure else "accept"
        peer = Peer(cmd + [role] + leg + ["--user", relay["USER"], "--password", relay["PASSWORD"],
                                          "--timeout", "60"] + p_args, role)
        check(peer.path_ready.wait(TIMEOUT) and peer.path is not None, "no PATH line", peer)
        remote = peer.path.split()[1:]
        peer.send_path("PATH " + " ".join(client.sdp_path()))

        if secure:
            # The msrp-peer binds: its first SEND reaches the WebSocket client.
            client.wait_for("the msrp-peer's first SEND", lambda: client.requests_in)
        w_text = "chat from the WebSocket \u00e9".encode()
        w_file = os.urandom(size)
        mid_text, codes = client.send_message(remote, w_text, "text/plain")
        check(codes == [200], "the relay's 200 to the WebSocket client's text: %s" % codes)
        mid_file, codes = client.send_message(remote, w_file, "application/octet-stream")
        check(codes == [200] * (size // 8192), "a 200 per chunk of the WebSocket client's file")

        got = client.wait_for("the msrp-peer's text and file", lambda: len(client.completed()) >= 2 and
                              client.completed(), timeout=60)
        peer.wait()
        check(peer.rc == 0, "the msrp-peer failed", peer)
        check([s[2] for s in peer.starting("SENT")] == ["200", "200"], "two SENT 200 at the msrp-peer", peer)

        # What the msrp-peer got from the WebSocket client.
        rec = {r[1]: r for r in peer.starting("RECEIVED")}
        check(set(rec) == {mid_text, mid_file}, "the msrp-peer got both messages", peer)
        check(rec[mid_text][2] == "text/plain" and rec[mid_text][4] == hashlib.sha256(w_text).hexdigest(),
              "the WebSocket client's text at the msrp-peer", peer)
        want = hashlib.sha256(w_file).hexdigest()
        check(rec[mid_file][3] == str(size) and rec[mid_file][4] == want
              and sha256_file(os.path.join(p_out, mid_file)) == want, "the WebSocket client's file", peer)

        # What the WebSocket client got from the msrp-peer.
        bodies = {client.message(m).content_type: client.message(m).body() for m in got}
        check(bodies.get("text/plain") == p_text.encode(), "the msrp-peer's text over WebSocket: %r"
              % bodies.get("text/plain"))
        check(hashlib.sha256(bodies.get("application/octet-stream", b"")).hexdigest() == sha256_file(p_src),
              "the msrp-peer's file over WebSocket")
        # The relay prepends its URIs to the From-Path (RFC 4976 §6.4): the
        # client's own Use-Path, then the peer's full path.
        sends = [f for f in client.requests_in if f.method == "SEND"]
        check(all(f.h("To-Path") == client.local_uri for f in sends), "To-Path is the client's URI")
        check(all(f.h("From-Path").split() == use_path + remote for f in sends),
              "From-Path: %s" % sends[0].h("From-Path"))
        # Kamailio sends each MSRP frame as one unmasked WebSocket frame:
        # a text frame when it is UTF-8, else a binary one (the file's).
        kinds = sorted(set((op, fin, masked, utf8) for op, fin, _, masked, utf8 in ws.frames_in))
        check(kinds == [(msrp_ws.OP_TEXT, True, False, True), (msrp_ws.OP_BINARY, True, False, False)],
              "the frames Kamailio sent (opcode, fin, masked, UTF-8): %s" % kinds)
    except AssertionError as e:
        report = ""
        if peer is not None and not hasattr(peer, "rc"):
            peer.proc.kill()
            peer.wait()
            report = "\n" + peer.report()
        raise AssertionError("%s%s\n--- relay log (last lines)\n%s" % (e, report, relay_log_tail(relay)))
    finally:
        if client is not None:
            client.close()
        if peer is not None and peer.proc.poll() is None:
            peer.proc.kill()
            peer.wait()
        subprocess.run([RELAY_SH, "stop", "--rundir", relay["RUNDIR"]], capture_output=True, timeout=60)


def relay_peer_ws(cmd, tmp, secure):
    """msrp-peer --ws as the WebSocket client of Kamailio's websocket module
    (`connect --ws --relay WS_URI`, wss with --tls and the relay's
    certificate as --ca) and a plain msrp-peer on the relay's TCP (or TLS)
    port accepting: a text and a 1 MiB file each way, SHA-256 checked on
    both sides. The WebSocket side's PATH is the relay's Use-Path (its MSRP
    port, tests/relay/BEHAVIOUR.md §10), then its own .invalid ;ws URI."""
    relay = start_relay(["--wss-port" if secure else "--ws-port", "0"])
    try:
        auth = ["--user", relay["USER"], "--password", relay["PASSWORD"], "--timeout", "60"]
        a_args, a_text, a_src, a_out = chat_and_file_args(tmp, "tcp-side", 1 << 20)
        c_args, c_text, c_src, c_out = chat_and_file_args(tmp, "ws-side", 1 << 20)
        if secure:
            tcp_leg = ["--relay", relay["TLS_URI"], "--ca", relay["CERT"]]
            ws_leg = ["--ws", "--tls", "--relay", relay["WSS_URI"], "--ca", relay["CERT"]]
        else:
            tcp_leg = ["--relay", relay["TCP_URI"]]
            ws_leg = ["--ws", "--relay", relay["WS_URI"]]
        a, c = run_pair(cmd, tcp_leg + auth + a_args, ws_leg + auth + c_args)
        check(a.rc == 0 and c.rc == 0, "the pair through Kamailio over %s" % ("wss" if secure else "ws"), a, c)
        path = c.path.split()[1:]
        want_relay = ("msrps://127.0.0.1:%s/" % relay["TLS_PORT"]) if secure else \
            ("msrp://127.0.0.1:%s/" % relay["TCP_PORT"])
        check(len(path) == 2 and path[0].startswith(want_relay) and path[1].endswith(";ws")
              and ".invalid:" in path[1], "the WebSocket side's PATH: the relay, then a .invalid ;ws URI", c)
        check_received(a, a_out, c_text, c_src, "TCP side")
        check_received(c, c_out, a_text, a_src, "WebSocket side")
    except AssertionError as e:
        raise AssertionError("%s\n--- relay log (last lines)\n%s" % (e, relay_log_tail(relay)))
    finally:
        subprocess.run([RELAY_SH, "stop", "--rundir", relay["RUNDIR"]], capture_output=True, timeout=60)


def case_usage(cmd, tmp):
    for args in (["bogus"], ["connect", "--frobnicate"], ["accept", "--count"], ["connect", "--start", "5"]):
        p = subprocess.run(cmd + args, capture_output=True, text=True, timeout=30)
        if p.returncode != 2:
            raise AssertionError("%s: exit %d, expected 2\n%s" % (args, p.returncode, p.stderr))


CASES = {
    "text": case_text,
    "file": case_file,
    "file-small": lambda cmd, tmp: case_file(cmd, tmp, size=5 << 20, chunk=4000),
    "tls": case_tls,
    "tls-ca": case_tls_ca,
    "tls-wrong-fingerprint": case_tls_wrong_fingerprint,
    "resume": case_resume,
    "disk-full": case_disk_full,
    "usage": case_usage,
    "ws": lambda cmd, tmp: case_ws(cmd, tmp, secure=False),
    "ws-relay": lambda cmd, tmp: relay_peer_ws(cmd, tmp, secure=False),
    "wss-relay": lambda cmd, tmp: relay_peer_ws(cmd, tmp, secure=True),
    "wss": lambda cmd, tmp: case_ws(cmd, tmp, secure=True),
    "relay": case_relay,
    "relay-fault": case_relay_fault,
    "relay-openssl-cert": case_relay_openssl_cert,
    "relay-ws": lambda cmd, tmp: relay_ws_session(cmd, tmp, secure=False),
    "relay-wss": lambda cmd, tmp: relay_ws_session(cmd, tmp, secure=True),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--peer", required=True)
    ap.add_argument("--wrap", default="", help="command prefix, e.g. valgrind options")
    ap.add_argument("case", choices=sorted(CASES))
    args = ap.parse_args()
    cmd = shlex.split(args.wrap) + [args.peer]
    with tempfile.TemporaryDirectory(prefix="msrp-peer-") as tmp:
        try:
            CASES[args.case](cmd, tmp)
        except AssertionError as e:
            print("FAIL %s: %s" % (args.case, e))
            return 1
        except Skip as e:
            print("SKIP %s: %s" % (args.case, e))
            return 77
    print("PASS %s" % args.case)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""int_peer_sdp_ tests: `msrp-peer offer` and `msrp-peer answer` over loopback.

The offerer's "SDP <line>" lines up to "SDP-END" go to the answerer's stdin
(what a SIP stack does with the body of an INVITE), the answer's lines go
back to the offerer; then both run to completion and their stdout is checked
against the msrp-peer contract. The SDP itself is checked too: a=setup,
the m= protocol, the fingerprint of each side's certificate, the RFC 5547
file attributes.

usage: peer_sdp_pair.py --peer PATH/TO/msrp-peer CASE
cases: tcp, setups, tls-file, tls-wrong-fingerprint, bind-source-port, conflict, usage, relay (exit 77,
a skip, when Kamailio is not installed)
"""
import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import threading

TIMEOUT = 60


class Peer:
    def __init__(self, cmd, name):
        self.name = name
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.lines = []
        self.stderr = ""
        self.sdp_done = threading.Event()
        self._out = threading.Thread(target=self._read_out, daemon=True)
        self._err = threading.Thread(target=self._read_err, daemon=True)
        self._out.start()
        self._err.start()
        self.rc = None

    def _read_out(self):
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            self.lines.append(line)
            if line == "SDP-END":
                self.sdp_done.set()
        self.sdp_done.set()

    def _read_err(self):
        self.stderr = self.proc.stderr.read()

    def sdp(self):
        """The SDP lines (without the "SDP " prefix)."""
        return [l[4:] for l in self.lines if l.startswith("SDP ")]

    def sdp_block(self):
        return [l for l in self.lines if l.startswith("SDP ") or l == "SDP-END"]

    def attr(self, name):
        return [l[len(name) + 3:] for l in self.sdp() if l.startswith("a=" + name + ":")]

    def give(self, lines):
        try:
            self.proc.stdin.write("".join(l + "\n" for l in lines))
            self.proc.stdin.flush()
        except BrokenPipeError:
            pass

    def wait(self):
        try:
            self.rc = self.proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.rc = self.proc.wait()
        self._out.join()
        self._err.join()
        return self.rc

    def starting(self, word):
        return [l.split() for l in self.lines if l.startswith(word + " ") or l == word]

    def report(self):
        return "--- %s (exit %s)\nstdout:\n%s\nstderr:\n%s" % (
            self.name, self.rc, "\n".join(self.lines), self.stderr[-4000:])


def check(cond, what, *peers):
    if not cond:
        raise AssertionError(what + "\n" + "\n".join(p.report() for p in peers))


def run_pair(cmd, offer_args, answer_args, edit_offer=lambda lines: lines):
    o = Peer(cmd + ["offer", "--timeout", "30"] + offer_args, "offer")
    a = Peer(cmd + ["answer", "--timeout", "30"] + answer_args, "answer")
    if not o.sdp_done.wait(TIMEOUT):
        raise AssertionError("no offer\n" + o.report())
    check(o.sdp_block() and o.sdp_block()[-1] == "SDP-END", "offer ends with SDP-END", o)
    a.give(edit_offer(o.sdp_block()))
    if a.sdp_done.wait(TIMEOUT) and a.sdp_block():
        o.give(a.sdp_block())
    else:
        o.proc.stdin.close()
    a.wait()
    o.wait()
    return o, a


def tls_files(tmp, name):
    cert, key = os.path.join(tmp, name + ".crt"), os.path.join(tmp, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    fp = subprocess.run(["openssl", "x509", "-in", cert, "-noout", "-fingerprint", "-sha256"],
                        check=True, capture_output=True, text=True).stdout.strip().split("=", 1)[1]
    return cert, key, fp


def text_exchange_ok(o, a):
    for p in (o, a):
        check(p.rc == 0, "%s failed" % p.name, o, a)
        check(p.starting("BOUND"), "no BOUND", p)
        check(p.lines[-1].startswith("CLOSED "), "last line is not CLOSED", p)
    want = hashlib.sha256(b"hello over sdp").hexdigest()
    check(any(r[4] == want for r in a.starting("RECEIVED")), "the answerer received the text", o, a)
    check([s[2] for s in o.starting("SENT")] == ["200"], "SENT 200 on the offerer", o)


def case_tcp(cmd, tmp):
    o, a = run_pair(cmd, ["--send-text", "hello over sdp", "--accept-types", "text/plain message/cpim"],
                    ["--count", "1"])
    text_exchange_ok(o, a)
    check(o.sdp()[0].startswith("m=message ") and o.sdp()[0].endswith(" TCP/MSRP *"), "offer m= line", o)
    check(o.attr("setup") == ["actpass"], "the offer says actpass", o)
    check(o.attr("accept-types") == ["text/plain message/cpim"], "the offer's accept-types", o)
    check(a.attr("setup") == ["active"], "the answer to actpass is active", a)
    check(a.sdp()[0].startswith("m=message 9 "), "an active answerer without a port advertises 9", a)
    check(len(o.attr("path")) == 1 and len(a.attr("path")) == 1, "both carry a=path", o, a)
    port = o.attr("path")[0].split(":")[2].split("/")[0]
    check(o.sdp()[0].split()[1] == port, "the offer's m= port is its path's", o)


def case_setups(cmd, tmp):
    # (offer --setup, answer --setup, the answer's a=setup)
    for off, ans, want in [(None, "passive", "passive"), ("active", None, "passive"),
                           ("actpass", "active", "active")]:
        oargs = ["--send-text", "hello over sdp"] + (["--setup", off] if off else [])
        aargs = ["--count", "1"] + (["--setup", ans] if ans else [])
        o, a = run_pair(cmd, oargs, aargs)
        text_exchange_ok(o, a)
        check(a.attr("setup") == [want], "offer %s answer %s gives %s" % (off, ans, want), o, a)


def case_tls_file(cmd, tmp):
    ocert, okey, ofp = tls_files(tmp, "offerer")
    acert, akey, afp = tls_files(tmp, "answerer")
    src = os.path.join(tmp, "my file.bin")
    data = hashlib.sha256(b"x").digest() * 40000  # 1.28 MB
    with open(src, "wb") as f:
        f.write(data)
    out_dir = os.path.join(tmp, "in")
    os.mkdir(out_dir)
    o, a = run_pair(cmd, ["--tls", "--cert", ocert, "--key", okey, "--send-file", src,
                          "--content-type", "application/x-test"],
                    ["--tls", "--cert", acert, "--key", akey, "--count", "1", "--out-dir", out_dir])
    for p in (o, a):
        check(p.rc == 0, "%s failed" % p.name, o, a)
    check(o.sdp()[0].endswith(" TCP/TLS/MSRP *") and a.sdp()[0].endswith(" TCP/TLS/MSRP *"), "TLS m= lines", o, a)
    check(o.attr("fingerprint") == ["sha-256 " + ofp], "the offer's fingerprint is its certificate's", o)
    check(a.attr("fingerprint") == ["sha-256 " + afp], "the answer's fingerprint is its certificate's", a)
    check("a=sendonly" in o.sdp() and "a=recvonly" in a.sdp(), "sendonly offer, recvonly answer", o, a)
    sha1 = hashlib.sha1(data).hexdigest().upper()
    sha1 = ":".join(sha1[i:i + 2] for i in range(0, 40, 2))
    want_sel = 'name:"my file.bin" type:application/x-test size:%d hash:sha-1:%s' % (len(data), sha1)
    check(o.attr("file-selector") == [want_sel], "the offer's file-selector", o)
    check(a.attr("file-selector") == [want_sel], "the answer repeats the file-selector", a)
    check(len(o.attr("file-transfer-id")) == 1 and a.attr("file-transfer-id") == o.attr("file-transfer-id"),
          "the answer repeats the file-transfer-id", o, a)
    got = a.starting("RECEIVED")
    check(len(got) == 1 and got[0][3] == str(len(data)) and got[0][4] == hashlib.sha256(data).hexdigest(),
          "the file arrived whole", a)
    with open(os.path.join(out_dir, got[0][1]), "rb") as f:
        check(f.read() == data, "the stored file is the sent one", a)


def case_tls_wrong_fingerprint(cmd, tmp):
    # The offer's fingerprint is not its certificate's: the answerer, which
    # connects (actpass answered active), must refuse the handshake.
    ocert, okey, _ = tls_files(tmp, "offerer")
    acert, akey, _ = tls_files(tmp, "answerer")
    _, _, other = tls_files(tmp, "other")

    def swap(lines):
        return ["SDP a=fingerprint:sha-256 " + other if l.startswith("SDP a=fingerprint:") else l for l in lines]

    o, a = run_pair(cmd, ["--tls", "--cert", ocert, "--key", okey, "--send-text", "x"],
                    ["--tls", "--cert", acert, "--key", akey, "--count", "1"], swap)
    check(a.rc == 1 and not a.starting("BOUND"), "the answerer does not bind", a)
    check("FINGERPRINT_MISMATCH" in a.stderr or "fingerprint" in a.stderr.lower(), "the reason is the fingerprint", a)
    check(o.rc == 1 and not o.starting("RECEIVED"), "the offerer fails", o)


def case_bind_source_port(cmd, tmp):
    # An active answer with --bind-source-port advertises the port it binds
    # (in a=path and m=), not 9; an actpass offerer that the answer makes
    # active connects from the port it listened on.
    o, a = run_pair(cmd, ["--send-text", "hello over sdp"], ["--count", "1", "--bind-source-port"])
    text_exchange_ok(o, a)
    port = a.attr("path")[0].split(":")[2].split("/")[0]
    check(a.attr("setup") == ["active"] and port not in ("0", "9"), "the active answer advertises a bound port", a)
    check(a.sdp()[0].split()[1] == port, "its m= port is that port", a)
    o, a = run_pair(cmd, ["--send-text", "hello over sdp", "--bind-source-port"],
                    ["--count", "1", "--setup", "passive"])
    text_exchange_ok(o, a)


def case_conflict(cmd, tmp):
    # Both ends would connect: the answerer refuses to answer (exit 1), the
    # offerer gets no answer and fails too.
    o, a = run_pair(cmd, ["--setup", "active", "--send-text", "x"], ["--setup", "active"])
    check(a.rc == 1 and "a=setup" in a.stderr, "the answer names a=setup", a)
    check(o.rc == 1, "the offerer fails without an answer", o)


def case_relay(cmd, tmp):
    # Kamailio's msrp module (tests/relay/kamailio.sh), as in peer_pair.py's
    # relay case; exit 77 (a skip) without it.
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import peer_pair
    try:
        relay = peer_pair.start_relay()
    except peer_pair.Skip as e:
        raise Skip(str(e))
    try:
        auth = ["--user", relay["USER"], "--password", relay["PASSWORD"]]
        # 1. The offerer through the relay over TCP, the answerer direct and
        #    passive (the relay connects to it: a direct active end would need
        #    the relay to route to the port in its path).
        o, a = run_pair(cmd, ["--relay", relay["TCP_URI"], "--send-text", "hello over sdp"] + auth,
                        ["--count", "1", "--setup", "passive"])
        text_exchange_ok(o, a)
        check(a.attr("setup") == ["passive"], "the answer is passive", a)
        check(o.attr("path")[0].startswith("msrp://127.0.0.1:%s" % relay["TCP_PORT"]), "the offer's path starts at the relay", o)
        # 2. Both through the relay over TLS (--ca the relay's certificate), a file.
        src = os.path.join(tmp, "relay.bin")
        data = hashlib.sha256(b"relay").digest() * 8192
        with open(src, "wb") as f:
            f.write(data)
        tls = ["--relay", relay["TLS_URI"], "--ca", relay["CERT"]] + auth
        o, a = run_pair(cmd, tls + ["--send-file", src], tls + ["--count", "1"])
        for p in (o, a):
            check(p.rc == 0, "%s failed (both through the TLS relay)" % p.name, o, a)
            check(p.sdp()[0].endswith(" TCP/TLS/MSRP *"), "TCP/TLS/MSRP to the msrps relay", p)
        got = a.starting("RECEIVED")
        check(len(got) == 1 and got[0][4] == hashlib.sha256(data).hexdigest(), "the file arrived through the relay", a)
    except AssertionError as e:
        raise AssertionError("%s\n--- relay log (last lines)\n%s" % (e, peer_pair.relay_log_tail(relay)))
    finally:
        subprocess.run([peer_pair.RELAY_SH, "stop", "--rundir", relay["RUNDIR"]], capture_output=True, timeout=60)


class Skip(Exception):
    pass


def case_usage(cmd, tmp):
    for args in (["offer", "--setup", "sideways"], ["connect", "--setup", "active"],
                 ["answer", "--tls"], ["offer", "--relay", "msrp://127.0.0.1:1;tcp"],
                 ["answer", "--fingerprint", "AB:CD"]):
        r = subprocess.run(cmd + args, capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
        if r.returncode != 2:
            raise AssertionError("%s: exit %d, want 2\n%s" % (args, r.returncode, r.stderr))


CASES = {"tcp": case_tcp, "setups": case_setups, "tls-file": case_tls_file,
         "tls-wrong-fingerprint": case_tls_wrong_fingerprint, "conflict": case_conflict, "bind-source-port": case_bind_source_port,
         "usage": case_usage, "relay": case_relay}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--peer", required=True)
    ap.add_argument("case", choices=sorted(CASES))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        try:
            CASES[args.case]([args.peer], tmp)
        except Skip as e:
            print("SKIP %s: %s" % (args.case, e))
            return 77
        except AssertionError as e:
            print("FAIL %s: %s" % (args.case, e), file=sys.stderr)
            return 1
    print("ok %s" % args.case)
    return 0


if __name__ == "__main__":
    sys.exit(main())

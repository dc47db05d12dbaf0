#!/usr/bin/env python3
"""int_relay_api: the relay connector API (ctypes) against Kamailio.

usage: relay_api.py --lib path/to/libmsrp.so

Starts a relay with tests/relay/kamailio.sh (exit 77, a skip, without
Kamailio) and checks, through msrp_relay_settings_new ("msrp://" relay URI,
plain TCP), msrp_connector_relay_new and msrp_acceptor_relay_new:
- prepare on both sides gives paths starting with the relay;
- msrp_connector_complete_async on the acceptor and msrp_connector_complete
  on the connector both bind (the callback gets MSRP_RESULT_OK and a
  transport);
- a complete_async cancelled by msrp_connector_cleanup calls back with
  MSRP_RESULT_CANCELLED; prepare then free needs no complete;
- a wrong password fails prepare with MSRP_RESULT_AUTHENTICATION;
- discovery (RFC 4976 §8) through msrp_relay_settings_set_dns_server and a
  small DNS server on loopback UDP in this script: a bare domain finds the
  relay's TLS leg by SRV; a domain without records fails prepare with
  MSRP_RESULT_IO and a text naming the domain;
- msrp_connector_expires_at / msrp_connector_expiry_warning_at, and the
  session's on_relay_expiring callback armed by
  msrp_session_watch_relay_expiry (the relay grants 5 s registrations).
"""
import argparse
import ctypes as C
import os
import socket
import struct
import subprocess
import sys
import threading
import time

result_t = C.c_uint32
OK, CANCELLED, IO, AUTHENTICATION, NOT_FOUND = 0, 6, 7, 11, 16
COMPLETE_CB = C.CFUNCTYPE(None, C.c_void_p, result_t, C.c_void_p)
EXPIRING_CB = C.CFUNCTYPE(None, C.c_void_p, C.c_uint64)
vp_ = C.c_void_p


class SessionConfig(C.Structure):
    _fields_ = [("size", C.c_size_t), ("accept_types", C.c_char_p), ("chunk_size", C.c_size_t),
                ("response_timeout_ms", C.c_uint32), ("max_message_size", C.c_uint64),
                ("max_incoming_size", C.c_uint64), ("max_outgoing_size", C.c_uint64),
                ("progress_step", C.c_uint64), ("user_data", vp_), ("user_data_free", vp_),
                ("on_chunk", vp_), ("on_message", vp_), ("on_message_data", vp_), ("on_message_sent", vp_),
                ("on_report", vp_), ("on_progress", vp_), ("on_aborted", vp_), ("on_closed", vp_),
                ("on_relay_expiring", EXPIRING_CB)]


def dns_name(name):
    out = b""
    for label in name.strip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


class DnsServer:
    """Answers SRV and A questions from `zone` ({(name, type): [rdata]}) on
    127.0.0.1 UDP; NXDOMAIN for names it does not know."""

    def __init__(self, zone):
        self.zone = zone
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.addr = "127.0.0.1:%d" % self.sock.getsockname()[1]
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                q, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            tid, _, qd = struct.unpack(">HHH", q[:6])
            if qd != 1:
                continue
            i, labels = 12, []
            while q[i]:
                labels.append(q[i + 1:i + 1 + q[i]].decode().lower())
                i += 1 + q[i]
            qtype = struct.unpack(">H", q[i + 1:i + 3])[0]
            question = q[12:i + 5]
            name = ".".join(labels)
            known = any(n == name for n, _ in self.zone)
            answers = self.zone.get((name, qtype), [])
            rcode = 0 if known else 3
            reply = struct.pack(">HHHHHH", tid, 0x8580 | rcode, 1, len(answers), 0, 0) + question
            for rdata in answers:
                reply += struct.pack(">HHHIH", 0xC00C, qtype, 1, 5, len(rdata)) + rdata
            self.sock.sendto(reply, peer)
RELAY_SH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "relay", "kamailio.sh")


def load(path):
    lib = C.CDLL(path)
    vp = C.c_void_p
    sig = {
        "msrp_result_str": (C.c_char_p, [result_t]),
        "msrp_last_error": (C.c_size_t, [C.c_char_p, C.c_size_t]),
        "msrp_string_free": (None, [vp]),
        "msrp_relay_settings_new": (result_t, [C.c_char_p, C.c_char_p, C.c_char_p, C.POINTER(vp)]),
        "msrp_relay_settings_set_expires": (result_t, [vp, C.c_uint32]),
        "msrp_relay_settings_free": (None, [vp]),
        "msrp_connector_relay_new": (result_t, [vp, vp, C.POINTER(vp)]),
        "msrp_acceptor_relay_new": (result_t, [vp, vp, C.POINTER(vp)]),
        "msrp_connector_prepare": (result_t, [vp, C.c_char_p, C.POINTER(vp)]),
        "msrp_connector_complete": (result_t, [vp, C.c_char_p, C.c_char_p, C.c_uint32, C.POINTER(vp)]),
        "msrp_connector_complete_async": (result_t, [vp, C.c_char_p, C.c_char_p, C.c_uint32, COMPLETE_CB, vp]),
        "msrp_connector_cleanup": (result_t, [vp]),
        "msrp_connector_free": (None, [vp]),
        "msrp_transport_free": (None, [vp]),
        "msrp_library_shutdown": (result_t, []),
        "msrp_relay_settings_set_dns_server": (result_t, [vp, C.c_char_p]),
        "msrp_relay_settings_set_expiry_lead": (result_t, [vp, C.c_uint32]),
        "msrp_endpoint_config_new": (result_t, [C.POINTER(vp)]),
        "msrp_endpoint_config_set_trust_anchors_file": (result_t, [vp, C.c_char_p]),
        "msrp_endpoint_config_free": (None, [vp]),
        "msrp_connector_direct_new": (result_t, [vp, C.POINTER(vp)]),
        "msrp_acceptor_direct_new": (result_t, [vp, C.POINTER(vp)]),
        "msrp_connector_expires_at": (result_t, [vp, C.POINTER(C.c_uint64)]),
        "msrp_connector_expiry_warning_at": (result_t, [vp, C.POINTER(C.c_uint64)]),
        "msrp_session_new": (result_t, [vp, C.POINTER(SessionConfig), C.POINTER(vp)]),
        "msrp_session_watch_relay_expiry": (result_t, [vp, vp]),
        "msrp_session_free": (None, [vp]),
    }
    for name, (res, args) in sig.items():
        f = getattr(lib, name)
        f.restype, f.argtypes = res, args
    return lib


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    a = ap.parse_args()
    p = subprocess.run([RELAY_SH, "start", "--min-expires", "5", "--watch-pid", str(os.getpid())],
                       capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        if "kamailio not found" in p.stderr:
            print("SKIP relay_api: " + p.stderr.strip())
            return 77
        raise SystemExit("relay did not start:\n" + p.stderr)
    relay = dict(l.split("=", 1) for l in p.stdout.splitlines() if "=" in l)
    try:
        run(load(a.lib), relay)
    finally:
        subprocess.run([RELAY_SH, "stop", "--rundir", relay["RUNDIR"]], capture_output=True, timeout=60)
    print("PASS relay_api")
    return 0


def run(lib, relay):
    def check(r, want, what):
        if r != want:
            buf = C.create_string_buffer(512)
            lib.msrp_last_error(buf, len(buf))
            raise SystemExit("%s: %s, want %s: %s" % (what, lib.msrp_result_str(r).decode(),
                                                       lib.msrp_result_str(want).decode(), buf.value.decode()))

    def take_string(p):
        s = C.cast(p, C.c_char_p).value.decode()
        lib.msrp_string_free(p)
        return s

    def settings(password):
        s = C.c_void_p()
        check(lib.msrp_relay_settings_new(relay["TCP_URI"].encode(), relay["USER"].encode(), password.encode(),
                                          C.byref(s)), OK, "settings")
        check(lib.msrp_relay_settings_set_expires(s, 300), OK, "expires")
        return s

    def prepared(make, s):
        h, path = C.c_void_p(), C.c_void_p()
        check(make(None, s, C.byref(h)), OK, "new")
        check(lib.msrp_connector_prepare(h, None, C.byref(path)), OK, "prepare")
        path = take_string(path)
        assert path.startswith("msrp://127.0.0.1:%s/" % relay["TCP_PORT"]) and len(path.split()) == 2, path
        return h, path

    outcomes, done = [], threading.Event()

    @COMPLETE_CB
    def on_complete(ud, result, transport):
        outcomes.append((result, transport))
        if transport:
            lib.msrp_transport_free(transport)
        done.set()

    s = settings(relay["PASSWORD"])
    acc, acc_path = prepared(lib.msrp_acceptor_relay_new, s)
    conn, conn_path = prepared(lib.msrp_connector_relay_new, s)
    lib.msrp_relay_settings_free(s)  # the handles keep their copies

    # Bind through the relay: async on the acceptor, blocking on the connector.
    check(lib.msrp_connector_complete_async(acc, conn_path.encode(), None, 10000, on_complete, None), OK,
          "complete_async")
    t = C.c_void_p()
    check(lib.msrp_connector_complete(conn, acc_path.encode(), None, 10000, C.byref(t)), OK, "complete")
    assert t.value, "no transport"
    assert done.wait(15), "the acceptor's callback never ran"
    assert len(outcomes) == 1 and outcomes[0][0] == OK and outcomes[0][1], outcomes
    lib.msrp_transport_free(t)
    lib.msrp_connector_free(conn)
    lib.msrp_connector_free(acc)

    # A complete_async cancelled by cleanup calls back with CANCELLED.
    s = settings(relay["PASSWORD"])
    acc, _ = prepared(lib.msrp_acceptor_relay_new, s)
    outcomes.clear()
    done.clear()
    check(lib.msrp_connector_complete_async(acc, b"msrp://127.0.0.1:9/nobody;tcp", None, 30000, on_complete,
                                            None), OK, "complete_async to be cancelled")
    check(lib.msrp_connector_cleanup(acc), OK, "cleanup")
    assert done.wait(15) and outcomes == [(CANCELLED, None)], outcomes
    lib.msrp_connector_free(acc)

    # Prepared, never completed: free cleans up.
    conn, _ = prepared(lib.msrp_connector_relay_new, s)
    lib.msrp_connector_free(conn)
    lib.msrp_relay_settings_free(s)

    # A wrong password fails in prepare.
    s = settings("wrong")
    conn, path = C.c_void_p(), C.c_void_p()
    check(lib.msrp_connector_relay_new(None, s, C.byref(conn)), OK, "new")
    check(lib.msrp_connector_prepare(conn, None, C.byref(path)), AUTHENTICATION, "prepare with a wrong password")
    lib.msrp_connector_free(conn)
    lib.msrp_relay_settings_free(s)

    # Discovery: a bare domain, SRV in our DNS server -> the relay's TLS leg.
    realm = relay["REALM"]
    zone = {
        ("_msrps._tcp." + realm, 33): [struct.pack(">HHH", 0, 1, int(relay["TLS_PORT"])) + dns_name("k." + realm)],
        ("k." + realm, 1): [socket.inet_aton("127.0.0.1")],
        (realm, 1): [],
    }
    dns = DnsServer(zone)
    cfg = C.c_void_p()
    check(lib.msrp_endpoint_config_new(C.byref(cfg)), OK, "config")
    check(lib.msrp_endpoint_config_set_trust_anchors_file(cfg, relay["CERT"].encode()), OK, "trust anchors")

    def discovering(domain):
        s = C.c_void_p()
        check(lib.msrp_relay_settings_new(domain.encode(), relay["USER"].encode(), relay["PASSWORD"].encode(),
                                          C.byref(s)), OK, "settings for " + domain)
        check(lib.msrp_relay_settings_set_dns_server(s, dns.addr.encode()), OK, "dns server")
        return s

    s = discovering(realm)
    check(lib.msrp_relay_settings_set_expires(s, 5), OK, "expires")
    check(lib.msrp_relay_settings_set_expiry_lead(s, 2), OK, "expiry lead")
    conn, path = C.c_void_p(), C.c_void_p()
    check(lib.msrp_connector_relay_new(cfg, s, C.byref(conn)), OK, "new")
    ms = C.c_uint64()
    check(lib.msrp_connector_expires_at(conn, C.byref(ms)), NOT_FOUND, "expires_at before prepare")
    before = int(time.time() * 1000)
    check(lib.msrp_connector_prepare(conn, None, C.byref(path)), OK, "prepare by SRV")
    after = int(time.time() * 1000)
    conn_path = take_string(path)
    assert conn_path.startswith("msrps://127.0.0.1:%s/" % relay["TLS_PORT"]), conn_path
    lib.msrp_relay_settings_free(s)
    expires, warning = C.c_uint64(), C.c_uint64()
    check(lib.msrp_connector_expires_at(conn, C.byref(expires)), OK, "expires_at")
    check(lib.msrp_connector_expiry_warning_at(conn, C.byref(warning)), OK, "expiry_warning_at")
    # Granted 5 s from the AUTH (with a millisecond of rounding either way).
    assert before + 5000 - 1 <= expires.value <= after + 5000 + 1, (before, expires.value, after)
    assert abs(expires.value - warning.value - 2000) <= 1, (expires.value, warning.value)

    # A direct acceptor as the peer; the session watches the relay's expiry.
    acc, acc_path = C.c_void_p(), C.c_void_p()
    check(lib.msrp_acceptor_direct_new(None, C.byref(acc)), OK, "acceptor")
    check(lib.msrp_connector_prepare(acc, None, C.byref(acc_path)), OK, "acceptor prepare")
    acc_path = take_string(acc_path)
    outcomes.clear()
    done.clear()
    check(lib.msrp_connector_complete_async(acc, conn_path.encode(), None, 10000, on_complete, None), OK,
          "acceptor complete_async")
    t = C.c_void_p()
    check(lib.msrp_connector_complete(conn, acc_path.encode(), None, 10000, C.byref(t)), OK, "complete")
    assert done.wait(15) and outcomes[0][0] == OK, outcomes
    expiring = []
    warned = threading.Event()

    @EXPIRING_CB
    def on_expiring(ud, left_ms):
        expiring.append((int(time.time() * 1000), left_ms))
        warned.set()

    sc = SessionConfig()
    sc.size = C.sizeof(SessionConfig)
    sc.on_relay_expiring = on_expiring
    session = C.c_void_p()
    check(lib.msrp_session_new(t, C.byref(sc), C.byref(session)), OK, "session")
    check(lib.msrp_session_watch_relay_expiry(session, conn), OK, "watch expiry")
    lib.msrp_connector_free(conn)  # the warning does not need it
    assert warned.wait(30), "no on_relay_expiring"
    at, left = expiring[0]
    assert at >= warning.value - 1 and left <= 2000, (at, warning.value, left)
    lib.msrp_session_free(session)
    lib.msrp_connector_free(acc)

    # A domain without SRV or address records: an I/O error naming it.
    for domain in ("nowhere.test", realm):
        s = discovering(domain)
        if domain == realm:
            zone.clear()  # now unknown: NXDOMAIN for everything
        conn, path = C.c_void_p(), C.c_void_p()
        check(lib.msrp_connector_relay_new(cfg, s, C.byref(conn)), OK, "new")
        check(lib.msrp_connector_prepare(conn, None, C.byref(path)), IO, "prepare for " + domain)
        buf = C.create_string_buffer(1024)
        lib.msrp_last_error(buf, len(buf))
        assert domain in buf.value.decode(), buf.value
        lib.msrp_connector_free(conn)
        lib.msrp_relay_settings_free(s)
    check(lib.msrp_relay_settings_set_dns_server(None, b"1.2.3.4"), 2, "NULL settings")
    lib.msrp_endpoint_config_free(cfg)
    check(lib.msrp_library_shutdown(), OK, "shutdown")


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Sends one message to msrp-peer from Python through libmsrp's C API (ctypes).

usage: send.py --lib path/to/libmsrp.so --peer path/to/msrp-peer

Starts `msrp-peer accept --count 1`, exchanges PATH lines with it, connects
with msrp_connector_direct_new/prepare/complete, sends a text with a
session, and checks the peer's RECEIVED line (content type, size, SHA-256).
"""
import argparse
import ctypes as C
import hashlib
import subprocess
import sys
import threading

result_t = C.c_uint32
OK = 0


class SessionConfig(C.Structure):
    pass


SENT_CB = C.CFUNCTYPE(None, C.c_void_p, C.c_char_p, C.c_uint16, C.c_uint64)
CLOSED_CB = C.CFUNCTYPE(None, C.c_void_p, C.c_uint32, C.c_char_p, C.c_void_p, C.c_size_t)
FREE_CB = C.CFUNCTYPE(None, C.c_void_p)
ANY_CB = C.c_void_p  # callbacks this script leaves NULL

SessionConfig._fields_ = [
    ("size", C.c_size_t),
    ("accept_types", C.c_char_p),
    ("chunk_size", C.c_size_t),
    ("response_timeout_ms", C.c_uint32),
    ("max_message_size", C.c_uint64),
    ("max_incoming_size", C.c_uint64),
    ("max_outgoing_size", C.c_uint64),
    ("progress_step", C.c_uint64),
    ("user_data", C.c_void_p),
    ("user_data_free", FREE_CB),
    ("on_chunk", ANY_CB),
    ("on_message", ANY_CB),
    ("on_message_data", ANY_CB),
    ("on_message_sent", SENT_CB),
    ("on_report", ANY_CB),
    ("on_progress", ANY_CB),
    ("on_aborted", ANY_CB),
    ("on_closed", CLOSED_CB),
]


def load(path):
    lib = C.CDLL(path)
    sig = {
        "msrp_result_str": (C.c_char_p, [result_t]),
        "msrp_last_error": (C.c_size_t, [C.c_char_p, C.c_size_t]),
        "msrp_string_free": (None, [C.c_void_p]),
        "msrp_connector_direct_new": (result_t, [C.c_void_p, C.POINTER(C.c_void_p)]),
        "msrp_connector_prepare": (result_t, [C.c_void_p, C.c_char_p, C.POINTER(C.c_void_p)]),
        "msrp_connector_complete": (result_t, [C.c_void_p, C.c_char_p, C.c_char_p, C.c_uint32,
                                               C.POINTER(C.c_void_p)]),
        "msrp_connector_free": (None, [C.c_void_p]),
        "msrp_session_new": (result_t, [C.c_void_p, C.POINTER(SessionConfig), C.POINTER(C.c_void_p)]),
        "msrp_session_send_message": (result_t, [C.c_void_p, C.c_char_p, C.c_char_p, C.c_size_t, C.c_void_p,
                                                 C.POINTER(C.c_void_p)]),
        "msrp_session_shutdown": (result_t, [C.c_void_p, C.c_bool]),
        "msrp_session_free": (None, [C.c_void_p]),
        "msrp_library_shutdown": (result_t, []),
    }
    for name, (res, args) in sig.items():
        f = getattr(lib, name)
        f.restype, f.argtypes = res, args
    return lib


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--peer", required=True)
    a = ap.parse_args()
    lib = load(a.lib)

    def check(r, what):
        if r != OK:
            buf = C.create_string_buffer(512)
            lib.msrp_last_error(buf, len(buf))
            raise SystemExit("%s: %s (%s)" % (what, buf.value.decode(), lib.msrp_result_str(r).decode()))

    def take_string(p):
        s = C.cast(p, C.c_char_p).value.decode()
        lib.msrp_string_free(p)
        return s

    peer = subprocess.Popen([a.peer, "accept", "--count", "1", "--timeout", "30"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    peer_path = peer.stdout.readline().strip()
    assert peer_path.startswith("PATH "), peer_path

    conn, path = C.c_void_p(), C.c_void_p()
    check(lib.msrp_connector_direct_new(None, C.byref(conn)), "connector")
    check(lib.msrp_connector_prepare(conn, None, C.byref(path)), "prepare")
    peer.stdin.write("PATH %s\n" % take_string(path))
    peer.stdin.flush()
    transport = C.c_void_p()
    check(lib.msrp_connector_complete(conn, peer_path[5:].encode(), None, 10000, C.byref(transport)), "complete")

    sent, closed, results = threading.Event(), threading.Event(), {}

    @SENT_CB
    def on_sent(ud, mid, code, acked):
        results["sent"] = (mid.decode(), code)
        sent.set()

    @CLOSED_CB
    def on_closed(ud, reason, text, unfinished, n):
        results["closed"] = (reason, text.decode())
        closed.set()

    cfg = SessionConfig()
    cfg.size = C.sizeof(SessionConfig)
    cfg.on_message_sent = on_sent
    cfg.on_closed = on_closed
    session = C.c_void_p()
    check(lib.msrp_session_new(transport, C.byref(cfg), C.byref(session)), "session")
    body = "hello from Python \u2713".encode()
    mid = C.c_void_p()
    check(lib.msrp_session_send_message(session, b"text/plain", body, len(body), None, C.byref(mid)), "send")
    message_id = take_string(mid)
    assert sent.wait(30), "no on_message_sent"
    assert results["sent"] == (message_id, 200), results
    check(lib.msrp_session_shutdown(session, True), "shutdown")
    assert closed.wait(30), "no on_closed"
    lib.msrp_session_free(session)
    lib.msrp_connector_free(conn)
    check(lib.msrp_library_shutdown(), "library shutdown")

    out, _ = peer.communicate(timeout=30)
    want = "RECEIVED %s text/plain %d %s" % (message_id, len(body), hashlib.sha256(body).hexdigest())
    assert peer.returncode == 0 and want in out.splitlines(), (peer.returncode, out)
    print("PASS python ctypes: %s" % want)
    return 0


if __name__ == "__main__":
    sys.exit(main())

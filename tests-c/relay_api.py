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
- a wrong password fails prepare with MSRP_RESULT_AUTHENTICATION.
"""
import argparse
import ctypes as C
import os
import subprocess
import sys
import threading

result_t = C.c_uint32
OK, CANCELLED, AUTHENTICATION = 0, 6, 11
COMPLETE_CB = C.CFUNCTYPE(None, C.c_void_p, result_t, C.c_void_p)
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
    }
    for name, (res, args) in sig.items():
        f = getattr(lib, name)
        f.restype, f.argtypes = res, args
    return lib


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    a = ap.parse_args()
    p = subprocess.run([RELAY_SH, "start", "--watch-pid", str(os.getpid())], capture_output=True, text=True,
                       timeout=60)
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
    check(lib.msrp_library_shutdown(), OK, "shutdown")


if __name__ == "__main__":
    sys.exit(main())

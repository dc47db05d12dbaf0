#!/usr/bin/env python3
"""The main demo: two msrp-peer processes on loopback.

This script plays the SIP/SDP part: it starts `msrp-peer accept` and
`msrp-peer connect`, reads each one's PATH line (what would go into SDP
a=path) and writes it to the other's stdin. Then the peers exchange chat
lines and a file, and the script shows what each printed and checks the
file's SHA-256 on both sides.

usage: peer_demo.py PATH/TO/msrp-peer [FILE_SIZE_MIB]
"""
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests-c"))
from peer_pair import make_file, run_pair, sha256_file  # noqa: E402


def main():
    peer = os.path.abspath(sys.argv[1])
    size = int(sys.argv[2]) if len(sys.argv) > 2 else 32
    with tempfile.TemporaryDirectory(prefix="msrp-demo-") as tmp:
        src = os.path.join(tmp, "holiday.bin")
        make_file(src, size << 20)
        out_dir = os.path.join(tmp, "received")
        os.mkdir(out_dir)
        accept_args = ["--send-text", "Hi! Send me the pictures.", "--count", "2", "--out-dir", out_dir]
        connect_args = ["--send-text", "Here they come.", "--send-file", src,
                        "--content-type", "application/octet-stream", "--count", "1", "--no-progress"]
        a, c = run_pair([peer], accept_args, connect_args)
        for p in (a, c):
            print("--- msrp-peer %s (exit %d)" % (p.name, p.rc))
            for line in p.lines:
                print("   " + line)
            if p.rc != 0:
                print(p.stderr[-2000:], file=sys.stderr)
        want = sha256_file(src)
        got = [r for r in a.starting("RECEIVED") if r[3] == str(size << 20)]
        ok = a.rc == 0 and c.rc == 0 and len(got) == 1 and got[0][4] == want
        if ok:
            saved = os.path.join(out_dir, got[0][1])
            ok = os.path.exists(saved) and sha256_file(saved) == want
        print("file of %d MiB: sha256 %s on both sides" % (size, "equal" if ok else "NOT equal"))
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

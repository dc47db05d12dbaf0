#!/usr/bin/env python3
"""int_peer_cpim tests: two msrp-peer processes with --cpim and --imdn over
loopback, and the CPIM and COMPOSING lines for the CPIM shapes other stacks
send (sipsimple, rcsjta, Doubango) and for isComposing.

usage: peer_cpim.py --peer PATH/TO/msrp-peer [--wrap "valgrind ..."] CASE
cases: imdn, no-imdn-answer, shapes
"""
import argparse
import hashlib
import os
import shlex
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer_pair import check, run_pair  # noqa: E402

ALICE = "sip:alice@example.org"
BOB = "sip:bob@example.net"


def sha(data):
    return hashlib.sha256(data).hexdigest()


def case_imdn(cmd, tmp):
    texts = ["hello", "second \u00e9t\u00e9"]
    a, c = run_pair(cmd,
                    ["--imdn", "--count", "2", "--timeout", "60"],
                    ["--cpim", ALICE, BOB, "--imdn", "--send-text", texts[0], "--send-text", texts[1],
                     "--timeout", "60"])
    for p in (a, c):
        check(p.rc == 0, "%s failed" % p.name, a, c)
    received = a.starting("RECEIVED")
    check(len(received) == 2 and all(r[2] == "message/cpim" for r in received), "two message/cpim received", a)
    cpim = a.starting("CPIM")
    check(len(cpim) == 2, "two CPIM lines", a)
    for line, text in zip(cpim, texts):
        body = text.encode()
        check(line[2] == ALICE, "CPIM from-uri", a)
        check(line[3] == "text/plain;charset=UTF-8", "CPIM inner type", a)
        check(line[4] == str(len(body)) and line[5] == sha(body), "CPIM inner size and digest", a)
    check(sorted(line[1] for line in cpim) == sorted(r[1] for r in received), "CPIM ids are the RECEIVED ids", a)
    imdn = c.starting("IMDN")
    check(len(imdn) == 2 and all(i[2] == "delivered" for i in imdn), "two IMDN delivered lines", c)
    check(len({i[1] for i in imdn}) == 2, "IMDNs name two different imdn.Message-IDs", c)
    check([s[2] for s in c.starting("SENT")] == ["200", "200"], "two SENT 200", c)
    # The notifications were reported as IMDN events, not as messages.
    check(not c.starting("RECEIVED"), "no RECEIVED on the sender", c)
    check(c.lines.index("IMDN %s delivered" % imdn[-1][1]) < len(c.lines) - 1, "IMDN before CLOSED", c)


def case_no_imdn_answer(cmd, tmp):
    # The receiver does not answer (no --imdn): the sender, which waits for
    # delivery notifications, does not succeed.
    a, c = run_pair(cmd,
                    ["--count", "1", "--timeout", "60"],
                    ["--cpim", ALICE, BOB, "--imdn", "--send-text", "anyone?", "--timeout", "10"])
    check(a.rc == 0, "receiver failed", a)
    check(len(a.starting("CPIM")) == 1, "the message arrived", a)
    check(c.rc == 1, "the sender succeeded without a notification", c)
    check(not c.starting("IMDN"), "an IMDN line without a notification", c)
    check([s[2] for s in c.starting("SENT")] == ["200"], "the message itself was sent", c)


SHAPES = {
    # sipsimple: bare-LF inner MIME part, quoted charset "utf8".
    "sipsimple": (b"From: Alice <sip:alice@example.org>\r\nTo: <sip:bob@example.net>\r\n"
                  b"DateTime: 2024-05-01T10:00:00+00:00\r\n\r\nMIME-Version: 1.0\n"
                  b"Content-Type: text/plain; charset=\"utf8\"\n\nHi Bob\r\n",
                  "sip:alice@example.org", 'text/plain;charset="utf8"', b"Hi Bob\r\n"),
    # Doubango: Subject only, no From/To.
    "doubango": (b"Subject: test\r\n\r\nContent-Type: text/plain\r\n\r\nhello\r\n",
                 "-", "text/plain", b"hello\r\n"),
    # rcsjta: imdn headers, lower-case Content-type/Content-length.
    "rcsjta": (b"From: <sip:+15551230001@ims.example>\r\nTo: <sip:+15551230002@ims.example>\r\n"
               b"NS: imdn <urn:ietf:params:imdn>\r\nimdn.Message-ID: 0123456789abcdef0123456789abcdef\r\n"
               b"DateTime: 2024-05-01T10:00:00.000Z\r\n"
               b"imdn.Disposition-Notification: positive-delivery, display\r\n\r\n"
               b"Content-type: text/plain;charset=UTF-8\r\nContent-length: 5\r\n\r\nhello",
               "sip:+15551230001@ims.example", "text/plain;charset=UTF-8", b"hello"),
}

COMPOSING = (b'<?xml version="1.0" encoding="UTF-8"?>\n'
             b'<isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing">'
             b'<state>active</state><contenttype>text/plain</contenttype><refresh>90</refresh></isComposing>')


def case_shapes(cmd, tmp):
    args = []
    for name, (payload, _, _, _) in SHAPES.items():
        path = os.path.join(tmp, name)
        with open(path, "wb") as f:
            f.write(payload)
        # Sent as other stacks label it: message/CPIM in upper case too.
        args += ["--send-file", path, "--content-type", "message/CPIM" if name == "doubango" else "message/cpim"]
    path = os.path.join(tmp, "composing")
    with open(path, "wb") as f:
        f.write(COMPOSING)
    args += ["--send-file", path, "--content-type", "application/im-iscomposing+xml"]
    # The receiver has --imdn: rcsjta's request is answered; the sender
    # without --imdn gets the notification as a plain message/cpim message.
    a, c = run_pair(cmd, ["--imdn", "--count", "4", "--timeout", "60"], args + ["--count", "1", "--timeout", "60"])
    for p in (a, c):
        check(p.rc == 0, "%s failed" % p.name, a, c)
    cpim = a.starting("CPIM")
    check(len(cpim) == 3, "three CPIM lines", a)
    got = sorted((l[2], l[3], l[4], l[5]) for l in cpim)
    want = sorted((frm, ct, str(len(body)), sha(body)) for _, frm, ct, body in SHAPES.values())
    check(got == want, "CPIM lines %s, expected %s" % (got, want), a)
    check(a.starting("COMPOSING") == [["COMPOSING", "active", "text/plain"]], "COMPOSING line", a)
    back = c.starting("CPIM")
    check(len(back) == 1 and back[0][3] == "message/imdn+xml", "the delivery notification came back", c)


CASES = {"imdn": case_imdn, "no-imdn-answer": case_no_imdn_answer, "shapes": case_shapes}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--peer", required=True)
    ap.add_argument("--wrap", default="", help="command prefix, e.g. valgrind options")
    ap.add_argument("case", choices=sorted(CASES))
    args = ap.parse_args()
    cmd = shlex.split(args.wrap) + [args.peer]
    with tempfile.TemporaryDirectory(prefix="msrp-peer-cpim-") as tmp:
        try:
            CASES[args.case](cmd, tmp)
        except AssertionError as e:
            print("FAIL %s: %s" % (args.case, e))
            return 1
    print("PASS %s" % args.case)
    return 0


if __name__ == "__main__":
    sys.exit(main())

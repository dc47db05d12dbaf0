#!/usr/bin/env python3
"""int_examples: the short C examples work as their comments say.

usage: examples_test.py SEND_CHAT RECEIVE_CHAT FILE_TRANSFER
"""
import hashlib
import os
import subprocess
import sys
import tempfile


def main():
    send_chat, receive_chat, file_transfer = sys.argv[1:4]
    recv = subprocess.Popen([receive_chat], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    send = subprocess.Popen([send_chat, "hello", "how are you?"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    recv_path = recv.stdout.readline().strip()
    send_path = send.stdout.readline().strip()
    assert recv_path.startswith("PATH ") and send_path.startswith("PATH "), (recv_path, send_path)
    recv.stdin.write(send_path + "\n")
    recv.stdin.flush()
    send.stdin.write(recv_path + "\n")
    send.stdin.flush()
    send_out, _ = send.communicate(timeout=60)
    recv_out, _ = recv.communicate(timeout=60)
    assert send.returncode == 0 and recv.returncode == 0, (send.returncode, recv.returncode, send_out, recv_out)
    assert recv_out.splitlines() == ["text/plain: hello", "text/plain: how are you?"], recv_out
    assert send_out.count(": 200") == 2, send_out

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "data.bin")
        data = os.urandom(3 << 20)
        with open(path, "wb") as f:
            f.write(data)
        out = subprocess.run([file_transfer, path], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out
        want = hashlib.sha256(data).hexdigest()
        assert "received %d bytes, sha256 %s, sender got 200" % (len(data), want) in out.stdout, out.stdout
    print("PASS examples")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A client for tests/vm/migrate/migrate-forward-listen.sh.

  lis-client.py HOST PORT BYTES

Connects, sends BYTES bytes of a pattern in 16 KiB pieces, reads the echo
of each piece and checks every byte, then closes.  Prints one line:
"ok bytes=N local=IP:PORT" or "bad ..." (exit 1).
"""
import socket
import sys


def main():
    host, port, total = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    s = socket.create_connection((host, port), timeout=20)
    local = "%s:%d" % s.getsockname()[:2]
    sent = 0
    while sent < total:
        n = min(16384, total - sent)
        piece = bytes(((sent + i) * 131 + 7) % 251 for i in range(n))
        s.sendall(piece)
        got = b""
        while len(got) < n:
            r = s.recv(n - len(got))
            if not r:
                print("bad eof after %d bytes local=%s" % (sent + len(got), local))
                return 1
            got += r
        if got != piece:
            print("bad bytes at %d local=%s" % (sent, local))
            return 1
        sent += n
    s.close()
    print("ok bytes=%d local=%s" % (sent, local))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except OSError as e:
        print("bad %s" % e)
        sys.exit(1)

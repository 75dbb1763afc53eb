#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""An echo service for tests/vm/migrate/migrate-forward.sh.

  echo.py HOST PORT LOG [CLOSE_FILE]

Echoes every byte of every connection.  Once CLOSE_FILE exists, it shuts
down its sending side of the first connection (the guest reads end of
file) and waits for the guest's close.  LOG gets one line per connection
when it ends: "conn N bytes=B end=eof|reset|error...".
"""
import os
import socket
import sys
import threading


def serve(conn, n, log, close_file):
    total = 0
    end = "eof"
    shut = False
    conn.settimeout(0.2)
    while True:
        if n == 1 and close_file and not shut and os.path.exists(close_file):
            conn.shutdown(socket.SHUT_WR)
            shut = True
        try:
            data = conn.recv(65536)
        except socket.timeout:
            continue
        except OSError as e:
            end = "reset" if isinstance(e, ConnectionResetError) else "error=%s" % e
            break
        if not data:
            end = "closed-after-shutdown" if shut else "eof"
            break
        if not shut:
            try:
                conn.sendall(data)
            except OSError as e:
                end = "error=%s" % e
                break
        total += len(data)
    with open(log, "a") as f:
        f.write("conn %d bytes=%d end=%s\n" % (n, total, end))
    conn.close()


def main():
    host, port, log = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    close_file = sys.argv[4] if len(sys.argv) > 4 else None
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((host, port))
    ls.listen(8)
    n = 0
    while True:
        conn, _ = ls.accept()
        n += 1
        threading.Thread(target=serve, args=(conn, n, log, close_file), daemon=True).start()


if __name__ == "__main__":
    main()

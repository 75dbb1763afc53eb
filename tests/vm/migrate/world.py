#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The world's side of the migration tests (tests/vm/migrate/migrate-vm.sh):
the peers of a guest's outsourced sockets, in the world namespace.

  world.py GUEST_IP PORT NIN RATE STOPFILE RESULT.json [START_IN_FILE]

- a TCP server on PORT for the guest's outgoing streams (mig-stream's
  NOUT): the stream's id (4 bytes), then the pattern both ways at RATE;
- NIN streams of its own to GUEST_IP:PORT+1 once START_IN_FILE exists;
- every second a short connection to GUEST_IP:PORT+1 that must echo 16
  bytes (the guest's listening socket wherever the guest runs);
- a UDP echo on PORT+2.
Every received byte is checked against the pattern; the longest silence of
each stream is the downtime its peer saw.  Runs until STOPFILE exists, then
writes RESULT.json.
"""
import json
import os
import selectors
import socket
import struct
import sys
import time

PERIOD = 65521
TABLE = bytes(((i * 2654435761) & 0xffffffff) >> 13 & 0xff for i in range(PERIOD))
TABLE2 = TABLE + TABLE


def expected(sid, off, n):
    out = bytearray()
    while n:
        start = (off + sid * 7919) % PERIOD
        k = min(n, PERIOD)
        out += TABLE2[start:start + k]
        off += k
        n -= k
    return bytes(out)


class Stream:
    def __init__(self, sock, sid, inbound):
        self.sock = sock
        self.sid = sid            # the guest sends pattern(sid), we send pattern(sid ^ 0x8000)
        self.inbound = inbound    # the guest connected to us
        self.sent = self.rcvd = 0
        self.bad = 0
        self.t0 = time.monotonic()
        self.last_rx = None
        self.max_gap = 0.0
        self.gap_at = 0.0
        self.eof = False
        self.out = b""


def main():
    guest_ip, port, nin, rate = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    stopfile, result = sys.argv[5], sys.argv[6]
    start_in = sys.argv[7] if len(sys.argv) > 7 else None
    sel = selectors.DefaultSelector()
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("0.0.0.0", port))
    lsock.listen(64)
    lsock.setblocking(False)
    sel.register(lsock, selectors.EVENT_READ, "listen")
    usock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    usock.bind(("0.0.0.0", port + 2))
    usock.setblocking(False)
    sel.register(usock, selectors.EVENT_READ, "udp")
    streams = []
    pending_id = {}               # accepted, id not read yet
    udp = 0
    late = []                     # (time, ok, error)
    next_late = time.monotonic() + 1
    opened_in = False
    t_start = time.monotonic()

    def new_stream(s, sid, inbound):
        st = Stream(s, sid, inbound)
        s.setblocking(False)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        streams.append(st)
        sel.register(s, selectors.EVENT_READ, st)
        return st

    while not os.path.exists(stopfile):
        now = time.monotonic()
        if start_in and not opened_in and os.path.exists(start_in):
            opened_in = True
            for j in range(nin):
                s = socket.create_connection((guest_ip, port + 1), timeout=10)
                sid = 1000 + j
                s.sendall(struct.pack("<I", sid))
                new_stream(s, sid, False)
        if opened_in and now >= next_late:
            next_late = now + 1
            try:
                with socket.create_connection((guest_ip, port + 1), timeout=3) as s:
                    s.settimeout(3)
                    s.sendall(b"0123456789abcdef")
                    got = b""
                    while len(got) < 16:
                        d = s.recv(16 - len(got))
                        if not d:
                            break
                        got += d
                    late.append((time.time(), got == b"0123456789abcdef", ""))
            except OSError as e:
                late.append((time.time(), False, str(e)))
        for st in streams:
            if st.eof:
                continue
            allowed = int((now - st.t0) * rate)
            while st.sent < allowed:
                n = min(allowed - st.sent, 16384)
                if not st.out:
                    st.out = expected(st.sid ^ 0x8000, st.sent, n)
                try:
                    w = st.sock.send(st.out)
                except BlockingIOError:
                    break
                except OSError:
                    st.eof = True
                    st.bad += 1
                    break
                st.sent += w
                st.out = st.out[w:]
                if st.out:
                    break
        for key, _ in sel.select(timeout=0.01):
            what = key.data
            now = time.monotonic()
            if what == "listen":
                try:
                    c, _ = lsock.accept()
                except BlockingIOError:
                    continue
                c.settimeout(5)
                hdr = b""
                while len(hdr) < 4:
                    d = c.recv(4 - len(hdr))
                    if not d:
                        break
                    hdr += d
                if len(hdr) == 4:
                    new_stream(c, struct.unpack("<I", hdr)[0], True)
                else:
                    c.close()
            elif what == "udp":
                while True:
                    try:
                        d, a = usock.recvfrom(2048)
                    except BlockingIOError:
                        break
                    udp += 1
                    usock.sendto(d, a)
            else:
                st = what
                try:
                    d = st.sock.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    st.eof = True
                    st.bad += 1
                    sel.unregister(st.sock)
                    continue
                if not d:
                    st.eof = True
                    sel.unregister(st.sock)
                    continue
                if d != expected(st.sid, st.rcvd, len(d)):
                    st.bad += 1
                st.rcvd += len(d)
                if st.last_rx is not None and now - st.last_rx > st.max_gap:
                    st.max_gap = now - st.last_rx
                    st.gap_at = now - t_start
                st.last_rx = now
    res = {
        "streams": [{"id": st.sid, "inbound": st.inbound, "sent": st.sent, "rcvd": st.rcvd,
                     "bad": st.bad, "max_gap_ms": round(st.max_gap * 1000, 1),
                     "gap_at_s": round(st.gap_at, 2)} for st in streams],
        "late": [{"t": t, "ok": ok, "error": e} for t, ok, e in late],
        "udp_echoed": udp,
    }
    with open(result + ".tmp", "w") as f:
        json.dump(res, f)
    os.rename(result + ".tmp", result)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
# host-echo.py PORT - TCP and UDP echo servers on 127.0.0.1:PORT and
# [::1]:PORT for the socket-outsourcing VM tests, and a host service that
# shares its UDP port 127.0.0.1:PORT+6 with SO_REUSEPORT (which a guest must
# never join); prints "READY" once all listen, runs until killed.
import socket, sys, threading

port = int(sys.argv[1])

def tcp_echo(conn):
    with conn:
        while True:
            try:
                d = conn.recv(65536)
            except OSError:
                return
            if not d:
                return
            conn.sendall(d)

def tcp_server(family, addr):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((addr, port))
    s.listen(512)
    def loop():
        while True:
            c, _ = s.accept()
            threading.Thread(target=tcp_echo, args=(c,), daemon=True).start()
    threading.Thread(target=loop, daemon=True).start()

def udp_server(family, addr):
    s = socket.socket(family, socket.SOCK_DGRAM)
    if family == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((addr, port))
    def loop():
        while True:
            d, a = s.recvfrom(65536)
            s.sendto(d, a)
    threading.Thread(target=loop, daemon=True).start()

tcp_server(socket.AF_INET, "127.0.0.1")
udp_server(socket.AF_INET, "127.0.0.1")
try:
    tcp_server(socket.AF_INET6, "::1")
    udp_server(socket.AF_INET6, "::1")
except OSError as e:
    print("no IPv6 loopback:", e, file=sys.stderr)
# A host service using SO_REUSEPORT: the kernel groups sockets of one user
# only, and a guest's sockets belong to its worker's user.
rp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
rp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
rp.bind(("127.0.0.1", port + 6))
print("READY", flush=True)
threading.Event().wait()

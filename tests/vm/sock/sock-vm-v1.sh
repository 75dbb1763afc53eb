#!/usr/bin/env bash
# VM test: tests/vm/sock/sock-vm.sh with hostrpc_sock.v2=0, the version 1
# data path (every send/recv a call).  Version 2 falls back to it for a
# socket without an area and against a host that only speaks version 1.
SOCK_VM_V2=0 exec "$(dirname "$0")/sock-vm.sh" "$@"

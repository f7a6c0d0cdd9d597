#!/usr/bin/python3
"""tests/integ/raw_http.py - one raw TCP exchange for the HTTP tests.

usage: raw_http.py HOST:PORT [TIMEOUT]

Sends standard input over one connection, then prints every byte that
comes back followed by a line "[closed]" (the server closed), "[reset]"
or "[open]" (TIMEOUT seconds, default 2, passed in silence).
"""
import socket
import sys

host, port = sys.argv[1].rsplit(":", 1)
timeout = float(sys.argv[2]) if len(sys.argv) > 2 else 2.0
data = sys.stdin.buffer.read()
s = socket.create_connection((host, int(port)))
s.sendall(data)
s.settimeout(timeout)
out, state = b"", "[open]"
try:
    while True:
        b = s.recv(65536)
        if not b:
            state = "[closed]"
            break
        out += b
except socket.timeout:
    pass
except ConnectionResetError:
    state = "[reset]"
sys.stdout.buffer.write(out + b"\n" + state.encode() + b"\n")

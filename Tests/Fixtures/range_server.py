#!/usr/bin/env python3
"""A small HTTP/1.1 server on 127.0.0.1 for `timbre models fetch` tests.

Serves one file at /<its name>, honours `Range: bytes=N-` (206 with Content-Range, 416 past
the end), and can misbehave on purpose: cut the first K transfers after N bytes (the
connection closes with the Content-Length unmet), flip one byte of what it sends, or ignore
Range (answer 200 with the whole file); with --tls CERT KEY it speaks https. Prints `PORT <n>` on stdout once listening, and
appends one line per request to --log: `GET <path> range=<header or ->`.
(python3 -m http.server knows no Range, hence this.)
"""
import argparse
import http.server
import os
import socket
import ssl
import threading

parser = argparse.ArgumentParser()
parser.add_argument("--file", required=True)
parser.add_argument("--log", required=True)
parser.add_argument("--cut-after", type=int, default=-1, help="bytes of body sent before cutting")
parser.add_argument("--cut-requests", type=int, default=0, help="how many transfers to cut")
parser.add_argument("--corrupt-at", type=int, default=-1, help="offset of a byte to flip")
parser.add_argument("--ignore-range", action="store_true")
parser.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"), help="serve https with this certificate and key (PEM)")
args = parser.parse_args()

with open(args.file, "rb") as f:
    body = bytearray(f.read())
if args.corrupt_at >= 0:
    body[args.corrupt_at] ^= 0xFF
body = bytes(body)
name = "/" + os.path.basename(args.file)
lock = threading.Lock()
cuts_left = [args.cut_requests]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *arguments):
        pass

    def do_GET(self):
        header = self.headers.get("Range")
        with lock, open(args.log, "a") as log:
            log.write(f"GET {self.path} range={header or '-'}\n")
        if self.path != name:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        start = 0
        if header and not args.ignore_range:
            assert header.startswith("bytes=") and header.endswith("-"), header
            start = int(header[len("bytes="):-1])
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        part = body[start:]
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Accept-Ranges", "none" if args.ignore_range else "bytes")
        self.send_header("Content-Length", str(len(part)))
        self.end_headers()
        with lock:
            cut = cuts_left[0] > 0 and args.cut_after >= 0
            if cut:
                cuts_left[0] -= 1
        if cut:
            # Send part of the body, then drop the connection with the Content-Length unmet.
            self.wfile.write(part[:args.cut_after])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(part)


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
if args.tls:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.tls[0], args.tls[1])
    server.socket = context.wrap_socket(server.socket, server_side=True)
print(f"PORT {server.server_address[1]}", flush=True)
server.serve_forever()

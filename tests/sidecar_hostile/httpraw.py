"""Just enough HTTP/1.1 over a raw socket to send what no well-behaved client
would and to read the answers back, pipelined ones included."""
import json
import socket
import time


class Reader:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("connection closed by the sidecar")
        self.buf += data

    def line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def exactly(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def response(self, on_chunk=None):
        """(status, headers (lower-case names), body bytes)."""
        status = int(self.line().split(b" ")[1])
        headers = {}
        while True:
            l = self.line()
            if not l:
                break
            k, v = l.split(b":", 1)
            headers[k.decode().lower()] = v.strip().decode()
        body = b""
        if headers.get("transfer-encoding") == "chunked":
            while True:
                n = int(self.line(), 16)
                if n == 0:
                    self.line()
                    break
                chunk = self.exactly(n)
                self.line()
                body += chunk
                if on_chunk and on_chunk(chunk) is False:
                    return status, headers, body
        else:
            body = self.exactly(int(headers.get("content-length", "0")))
        return status, headers, body


def request(method, path, body=b"", headers=None):
    h = {"Host": "sidecar"}
    if body or method == "POST":
        h["Content-Length"] = str(len(body))
    h.update(headers or {})
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items()) + "\r\n"
    return head.encode() + body


def call(sidecar, method, path, body=b"", headers=None, timeout=10):
    """One request on a fresh connection: (status, parsed JSON body, seconds)."""
    t0 = time.monotonic()
    with sidecar.connect(timeout) as s:
        s.sendall(request(method, path, body, headers))
        status, _, data = Reader(s).response()
    return status, json.loads(data) if data else None, time.monotonic() - t0

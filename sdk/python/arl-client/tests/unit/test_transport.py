"""KubeTransport over the installed `kubernetes` package, against a local HTTP server.

setup.sh installs the package at the floor pyproject.toml declares, so this
proves the floor really has what the transport calls (param_serialize, call_api).
"""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from kubernetes import client as kclient

from arl_client.transport import KubeTransport


class _Handler(BaseHTTPRequestHandler):
    seen = []
    framing = []

    def do_POST(self):  # noqa: N802 (http.server's naming)
        if self.headers.get("Transfer-Encoding") == "chunked":
            body = b""
            while (size := int(self.rfile.readline().split(b";")[0], 16)) > 0:
                body += self.rfile.read(size)
                self.rfile.readline()
            self.rfile.readline()
            body_framing = "chunked"
        else:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            body_framing = "length"
        _Handler.framing.append(body_framing)
        _Handler.seen.append((self.command, self.path, self.headers.get("Authorization"),
                              self.headers.get("X-Arl-Token"), body))
        out = json.dumps({"ok": True, "path": self.path}).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    _Handler.seen.clear()
    _Handler.framing.clear()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def _transport(server: str) -> KubeTransport:
    cfg = kclient.Configuration()
    cfg.host = server
    cfg.api_key = {"BearerToken": "secret-token"}
    cfg.api_key_prefix = {"BearerToken": "Bearer"}
    return KubeTransport(kclient.ApiClient(cfg))


def test_request_sends_path_query_body_and_credentials(server):
    transport = _transport(server)
    try:
        resp = transport.request("POST", "/api/v1/namespaces/ns/pods/p:8080/proxy/execute",
                                 query={"dryRun": "All", "skipped": None}, body={"command": ["true"]},
                                 headers={"X-Arl-Token": "pool-token"})
        assert resp.status == 201
        assert resp.json()["ok"] is True
    finally:
        transport.close()
    method, path, auth, token, body = _Handler.seen[0]
    assert (method, path) == ("POST", "/api/v1/namespaces/ns/pods/p:8080/proxy/execute?dryRun=All")
    assert auth == "Bearer secret-token"
    assert token == "pool-token"
    assert json.loads(body) == {"command": ["true"]}


def test_chunked_request_sends_the_body_without_a_length_and_streams_the_reply(server):
    """Streamed executes go through the pod proxy with a chunked body (transport.py says why)."""
    transport = _transport(server)
    try:
        resp = transport.request("POST", "/api/v1/namespaces/ns/pods/p:8080/proxy/execute",
                                 body={"command": ["true"], "stream": True}, headers={"X-Arl-Token": "t"},
                                 timeout=(5.0, 5.0), chunked=True)
        assert resp.status == 201
        assert json.loads(b"".join(resp.lines()))["ok"] is True
        resp.close()
        plain = transport.request("POST", "/api/v1/namespaces/ns/pods/p:8080/proxy/execute", body={"command": ["true"]})
        assert plain.status == 201
    finally:
        transport.close()
    assert _Handler.framing == ["chunked", "length"]
    method, path, auth, token, body = _Handler.seen[0]
    assert (method, path, auth, token) == ("POST", "/api/v1/namespaces/ns/pods/p:8080/proxy/execute",
                                           "Bearer secret-token", "t")
    assert json.loads(body) == {"command": ["true"], "stream": True}

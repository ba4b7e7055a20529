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

    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
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
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def test_request_sends_path_query_body_and_credentials(server):
    cfg = kclient.Configuration()
    cfg.host = server
    cfg.api_key = {"BearerToken": "secret-token"}
    cfg.api_key_prefix = {"BearerToken": "Bearer"}
    transport = KubeTransport(kclient.ApiClient(cfg))
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

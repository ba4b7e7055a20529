"""HTTP to the API server, reusing the official client's auth and TLS.

Everything the SDK sends goes through `KubeTransport.request`, so kubeconfig
contexts, exec/refresh tokens, client certificates and in-cluster config all
behave exactly as in the `kubernetes` package. Bodies stay raw bytes/dicts:
custom resources have no generated models and the pod proxy is not JSON-typed.
"""
from __future__ import annotations

import json
import os
import threading
from typing import Any, Dict, Iterator, Optional, Tuple, Union

import urllib3

from .errors import UnavailableError

Timeout = Union[None, float, Tuple[float, float]]

# Every concurrent session holds up to two connections at once (a watch and a
# request), so the pool must be far larger than the client's default of
# 5 x cores or threads would open and throw away a TLS connection per call.
# ARL_POOL_MAXSIZE raises it for a process driving more sessions at once.
DEFAULT_POOL_MAXSIZE = int(os.environ.get("ARL_POOL_MAXSIZE", "256"))
# httpx + h2 (one multiplexed HTTP/2 connection) was considered and left out: with the
# informer, waits hold no connection, so the pool holds about one keep-alive HTTP/1.1
# connection per call in flight; a second HTTP stack would duplicate the kubernetes
# client's kubeconfig, exec-credential and TLS handling for no measured gain.


class Response:
    """A reply whose body is read on demand (for watches and streamed output)."""

    def __init__(self, raw: Any):
        self._raw = raw
        self.status: int = raw.status
        self.headers = getattr(raw, "headers", None) or {}
        self._data: Optional[bytes] = None

    @property
    def data(self) -> bytes:
        if self._data is None:
            try:
                self._data = self._raw.data or b""
            finally:
                self._raw.release_conn()
        return self._data

    def json(self) -> Any:
        return json.loads(self.data or b"null")

    def lines(self) -> Iterator[bytes]:
        for line in self._raw:
            line = line.strip()
            if line:
                yield line

    def close(self) -> None:
        # A half-read stream cannot go back to the pool as is: closing the
        # connection makes the pool open a fresh one next time.
        try:
            self._raw.close()
        finally:
            self._raw.release_conn()


class KubeTransport:
    def __init__(self, api_client: Any):
        self.api_client = api_client
        self.host = api_client.configuration.host

    @classmethod
    def from_config(cls, kubeconfig: Optional[str] = None, context: Optional[str] = None,
                    pool_maxsize: int = DEFAULT_POOL_MAXSIZE) -> "KubeTransport":
        from kubernetes import client as kclient
        from kubernetes import config as kconfig

        cfg = kclient.Configuration()
        explicit = kubeconfig or os.environ.get("KUBECONFIG")
        in_cluster = not explicit and os.environ.get("KUBERNETES_SERVICE_HOST") and not os.path.exists(
            os.path.expanduser("~/.kube/config"))
        if in_cluster:
            kconfig.load_incluster_config(client_configuration=cfg)
        else:
            kconfig.load_kube_config(config_file=kubeconfig, context=context, client_configuration=cfg,
                                     persist_config=False)
        cfg.connection_pool_maxsize = pool_maxsize
        return cls(kclient.ApiClient(cfg))

    def request(self, method: str, path: str, *, query: Optional[Dict[str, Any]] = None,
                body: Any = None, headers: Optional[Dict[str, str]] = None,
                content_type: str = "application/json", timeout: Timeout = None,
                chunked: bool = False) -> Response:
        """`chunked` sends the body without a Content-Length. Streamed replies through the API
        server's pod proxy need it: with a Content-Length body, the proxy reads the caller's
        body once more after forwarding it, and if the executor's first bytes are flushed back
        before that read, Go's HTTP server has already closed that body; the proxy then drops
        the connection to the pod mid-stream. A chunked body is read to its end before the
        executor can answer, so the race cannot happen."""
        hdrs = {"Accept": "application/json", "Content-Type": content_type}
        if headers:
            hdrs.update(headers)
        q = [(k, v) for k, v in (query or {}).items() if v is not None]
        try:
            method_, url, hdrs, body_, post = self.api_client.param_serialize(
                method=method, resource_path=path, query_params=q, header_params=hdrs,
                body=body, auth_settings=["BearerToken"])
            if chunked:
                return Response(self._chunked(method_, url, hdrs, body_, timeout))
            raw = self.api_client.call_api(method_, url, header_params=hdrs, body=body_,
                                           post_params=post, _request_timeout=timeout)
        except urllib3.exceptions.HTTPError as e:
            raise UnavailableError(f"{method} {path}: cannot reach the API server at {self.host}: {e}") from e
        except Exception as e:  # ApiException(status=0) for TLS problems
            if type(e).__name__ == "ApiException" and getattr(e, "status", None) == 0:
                raise UnavailableError(f"{method} {path}: {e.reason}") from e
            raise
        return Response(raw.response)

    def _chunked(self, method: str, url: str, headers: Dict[str, str], body: Any, timeout: Timeout) -> Any:
        data = body if isinstance(body, (bytes, str)) else json.dumps(body)
        if isinstance(data, str):
            data = data.encode()
        if isinstance(timeout, tuple):
            t: Any = urllib3.Timeout(connect=timeout[0], read=timeout[1])
        else:
            t = urllib3.Timeout(total=timeout) if timeout else None
        return self.api_client.rest_client.pool_manager.request(
            method, url, body=iter([data]), headers=headers, chunked=True, preload_content=False, timeout=t)

    def close(self) -> None:
        self.api_client.close()


_default_lock = threading.Lock()
_default: Dict[Tuple[Optional[str], Optional[str]], KubeTransport] = {}


def shared_transport(kubeconfig: Optional[str] = None, context: Optional[str] = None) -> KubeTransport:
    """One transport per (kubeconfig, context): loading a kubeconfig and the
    TLS handshakes of a fresh pool cost milliseconds that an episode loop
    should not pay per session."""
    key = (kubeconfig or os.environ.get("KUBECONFIG"), context)
    with _default_lock:
        t = _default.get(key)
        if t is None:
            t = KubeTransport.from_config(kubeconfig, context)
            _default[key] = t
        return t

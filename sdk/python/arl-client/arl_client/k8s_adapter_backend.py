"""The KubernetesAdapter's only door to the cluster: blocking calls on the
official `kubernetes` client (dynamic client for any kind, CoreV1Api for pod
logs). Everything above it works on plain dicts, so unit tests swap in a fake
with the same methods (tests/unit/fake_k8s_backend.py).

Errors are the client's own ApiException / DynamicApiError: both carry
`status` (HTTP code) and `body` (the API server's Status JSON), which
k8s_adapter_results turns into result dicts.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import weakref
from typing import Any, Dict, Iterator, List, Optional, Tuple

from kubernetes import client as kclient
from kubernetes import config as kconfig
from kubernetes import watch as kwatch
from kubernetes.config.config_exception import ConfigException
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import ResourceNotFoundError

FIELD_MANAGER = "arl-adapter"


class UnknownResourceType(LookupError):
    """The cluster serves no resource of that kind or name."""


def load_api_client(kubeconfig_path: Optional[str], context: Optional[str], pool_size: int) -> kclient.ApiClient:
    """A client of its own (never the module-wide default configuration): the kubeconfig
    given, else $KUBECONFIG / ~/.kube/config, else the pod's service account."""
    cfg = kclient.Configuration()
    try:
        kconfig.load_kube_config(config_file=kubeconfig_path, context=context, client_configuration=cfg,
                                 persist_config=False)
    except ConfigException:
        if kubeconfig_path:
            raise
        kconfig.load_incluster_config(client_configuration=cfg)
    # One connection per worker thread: more threads than connections would queue on urllib3.
    cfg.connection_pool_maxsize = max(pool_size, 4)
    return kclient.ApiClient(cfg)


class KubeBackend:
    def __init__(self, api_client: kclient.ApiClient):
        self.api_client = api_client
        # A discovery cache of our own: the client's default file is shared by every process
        # talking to the same server and keeps kinds of CRDs deleted since.
        self._cache_dir = tempfile.mkdtemp(prefix="arl-adapter-discovery-")
        # Removed by close(), or when the backend is collected or the interpreter exits.
        self._cleanup = weakref.finalize(self, shutil.rmtree, self._cache_dir, ignore_errors=True)
        self._dyn_client: Optional[DynamicClient] = None
        self._core = kclient.CoreV1Api(api_client)
        # The discoverer mutates its cache as it goes: one lookup at a time, each kind once.
        self._lock = threading.RLock()
        self._by_kind: Dict[Tuple[str, str], Any] = {}
        self._by_alias: Optional[Dict[str, List[Any]]] = None

    @property
    def _dyn(self) -> DynamicClient:
        # Made on first use, not in the constructor: it asks the server for its version, and
        # an unreachable server must be an error result of a call, not a failed constructor.
        with self._lock:
            if self._dyn_client is None:
                self._dyn_client = DynamicClient(self.api_client,
                                                 cache_file=os.path.join(self._cache_dir, "discovery.json"))
            return self._dyn_client

    # ---- resource discovery
    def _resource(self, api_version: str, kind: str):
        key = (api_version, kind)
        with self._lock:
            if key not in self._by_kind:
                try:
                    self._by_kind[key] = self._dyn.resources.get(api_version=api_version, kind=kind)
                except ResourceNotFoundError:
                    raise UnknownResourceType(f"the cluster serves no {kind} in {api_version} "
                                              f"(is its CRD installed?)") from None
            return self._by_kind[key]

    def namespaced(self, api_version: str, kind: str) -> bool:
        return bool(self._resource(api_version, kind).namespaced)

    def resolve_type(self, resource_type: str) -> Tuple[str, str]:
        """(apiVersion, kind) for what a user types: kind, plural, singular or short name,
        optionally with its group ("deployments.apps"). Core and built-in groups win ties."""
        with self._lock:
            found = self._aliases(refresh=False).get(resource_type.lower(), [])
            if not found:  # a CRD may have been added since the last discovery
                found = self._aliases(refresh=True).get(resource_type.lower(), [])
        if not found:
            raise UnknownResourceType(f'resource type "{resource_type}": the cluster serves no such kind')
        builtin = ("", "apps", "batch")
        found = sorted(found, key=lambda r: (builtin.index(r.group) if r.group in builtin else len(builtin),
                                             not getattr(r, "preferred", True)))
        return found[0].group_version, found[0].kind

    def _aliases(self, refresh: bool) -> Dict[str, List[Any]]:
        if self._by_alias is None or refresh:
            if refresh:
                self._dyn.resources.invalidate_cache()
            aliases: Dict[str, List[Any]] = {}
            for r in self._dyn.resources.search():
                if "/" in (r.name or "") or not getattr(r, "kind", None) or r.kind.endswith("List"):
                    continue
                names = {r.kind.lower(), (r.name or "").lower(), (r.singular_name or "").lower()}
                names |= {s.lower() for s in (r.short_names or [])}
                names |= {f"{n}.{r.group}" for n in list(names) if n and r.group}
                for n in names - {""}:
                    aliases.setdefault(n, []).append(r)
            self._by_alias = aliases
        return self._by_alias

    # ---- reads and writes (dicts in, dicts out)
    def get(self, api_version: str, kind: str, name: str, namespace: Optional[str]) -> Dict[str, Any]:
        r = self._resource(api_version, kind)
        return self._dyn.get(r, name=name, namespace=namespace if r.namespaced else None).to_dict()

    def list(self, api_version: str, kind: str, namespace: Optional[str], label_selector: Optional[str] = None,
             field_selector: Optional[str] = None) -> Dict[str, Any]:
        r = self._resource(api_version, kind)
        return self._dyn.get(r, namespace=namespace if r.namespaced else None, label_selector=label_selector,
                             field_selector=field_selector).to_dict()

    def apply(self, obj: Dict[str, Any], namespace: Optional[str], dry_run: bool, force: bool) -> Dict[str, Any]:
        r = self._resource(obj["apiVersion"], obj["kind"])
        kwargs: Dict[str, Any] = {"field_manager": FIELD_MANAGER}
        if dry_run:
            kwargs["dry_run"] = "All"
        if force:
            kwargs["force_conflicts"] = True
        return self._dyn.server_side_apply(r, body=obj, namespace=namespace if r.namespaced else None,
                                           **kwargs).to_dict()

    def create(self, obj: Dict[str, Any], namespace: Optional[str], dry_run: bool) -> Dict[str, Any]:
        r = self._resource(obj["apiVersion"], obj["kind"])
        kwargs: Dict[str, Any] = {"field_manager": FIELD_MANAGER}
        if dry_run:
            kwargs["dry_run"] = "All"
        return self._dyn.create(r, body=obj, namespace=namespace if r.namespaced else None, **kwargs).to_dict()

    def patch(self, api_version: str, kind: str, name: str, namespace: Optional[str], body: Any,
              content_type: str, dry_run: bool) -> Dict[str, Any]:
        r = self._resource(api_version, kind)
        kwargs: Dict[str, Any] = {"field_manager": FIELD_MANAGER, "content_type": content_type}
        if dry_run:
            kwargs["dry_run"] = "All"
        return self._dyn.patch(r, body=body, name=name, namespace=namespace if r.namespaced else None,
                               **kwargs).to_dict()

    def delete(self, api_version: str, kind: str, name: str, namespace: Optional[str], dry_run: bool,
               propagation: str = "Background") -> None:
        r = self._resource(api_version, kind)
        body = {"propagationPolicy": propagation}
        if dry_run:
            body["dryRun"] = ["All"]
        self._dyn.delete(r, name=name, namespace=namespace if r.namespaced else None, body=body)

    def watch(self, api_version: str, kind: str, namespace: Optional[str], resource_version: str,
              timeout: float, field_selector: Optional[str] = None,
              label_selector: Optional[str] = None) -> Iterator[Tuple[str, Dict[str, Any]]]:
        """(type, object) events after resource_version until the server closes the watch
        (timeoutSeconds) or the caller stops iterating. ERROR events (410 Gone) are passed on."""
        r = self._resource(api_version, kind)
        w = kwatch.Watch()
        seconds = max(1, int(timeout + 0.999))
        try:
            for ev in w.stream(r.get, namespace=namespace if r.namespaced else None, serialize=False,
                               resource_version=resource_version, timeout_seconds=seconds,
                               field_selector=field_selector, label_selector=label_selector,
                               allow_watch_bookmarks=False,
                               # A dead connection must not outlive the wait: the server closes at
                               # `seconds`, the client gives up shortly after.
                               _request_timeout=seconds + 5):
                obj = ev.get("raw_object") or ev.get("object")
                if not isinstance(obj, dict):
                    obj = getattr(obj, "to_dict", lambda: {})()
                yield ev.get("type", ""), obj
        finally:
            w.stop()

    def pod_log(self, name: str, namespace: str, container: Optional[str]) -> str:
        return self._core.read_namespaced_pod_log(name, namespace, container=container)

    def close(self) -> None:
        self.api_client.close()
        self._cleanup()


def status_body(exc: Exception) -> Dict[str, Any]:
    """The API server's Status object carried by a client exception, {} when there is none."""
    body = getattr(exc, "body", None)
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str):
        try:
            parsed = json.loads(body)
            return parsed if isinstance(parsed, dict) else {}
        except ValueError:
            return {}
    return {}

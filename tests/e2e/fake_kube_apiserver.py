"""A FAKE Kubernetes API server for the end-to-end tests — no real one can run on these
machines. It implements the documented REST endpoints the real `kubectl` uses with SoMLier:
legacy discovery (/api, /apis, /api/v1, /apis/GROUP/VERSION), create, get, list (with
equality label selectors), merge-patch and delete of namespaced objects, and pod logs. It
stores objects in memory, answers errors as the real server does (a v1 Status with reason
AlreadyExists, NotFound, Invalid, Forbidden, Unauthorized), refuses names that are not
DNS-1123 and kinds it does not serve, and requires the bearer token of its kubeconfig. It
serves HTTPS with a self-signed certificate made by `openssl` for 127.0.0.1 (kubectl sends
tokens only over TLS), which the kubeconfig names as its certificate authority. Tests
move objects through their statuses with `set_status`, play the Job controller with
`start_pod` (the pod a Job would get, with its labels and containers) and `set_pod_status`,
and make kinds forbidden with `forbid` (from the Nth create on, with `after`).

    with FakeKubeApiServer() as api:
        env = dict(os.environ, KUBECONFIG=api.kubeconfig(tmp_dir))
        ... run kubectl / somlier ...
        api.objects("jobs")  # what was created
"""
import base64
import datetime
import http.server
import json
import pathlib
import re
import secrets
import ssl
import subprocess
import tempfile
import threading
import urllib.parse
import uuid

# (group, version, plural, kind, namespaced)
RESOURCES = [
    ("", "v1", "namespaces", "Namespace", False),
    ("", "v1", "secrets", "Secret", True),
    ("", "v1", "configmaps", "ConfigMap", True),
    ("", "v1", "services", "Service", True),
    ("", "v1", "pods", "Pod", True),
    ("batch", "v1", "jobs", "Job", True),
    ("apps", "v1", "deployments", "Deployment", True),
    ("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", True),
    ("networking.istio.io", "v1beta1", "virtualservices", "VirtualService", True),
    ("networking.istio.io", "v1beta1", "destinationrules", "DestinationRule", True),
]
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
# Kinds whose names must be DNS labels (the others: subdomains).
LABEL_NAMED = {"Namespace", "Service", "Deployment"}


def _status(code, reason, message, details=None):
    return code, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                  "message": message, "reason": reason, "details": details or {}, "code": code}


class FakeKubeApiServer:
    def __init__(self):
        self.token = secrets.token_hex(16)
        self.lock = threading.Lock()
        self.store = {}  # (plural, namespace, name) -> object
        self.logs = {}  # (namespace, pod) -> text
        self.forbidden = {}  # plural -> creates still allowed before the token may not touch it
        self.requests = []  # (method, path, body) of every request, for the tests to inspect
        self._server = None
        self._tls = tempfile.TemporaryDirectory(prefix="fake-kube-")
        self.cert = pathlib.Path(self._tls.name) / "cert.pem"
        key = pathlib.Path(self._tls.name) / "key.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
                        "-subj", "/CN=fake-kube-apiserver", "-addext",
                        "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out",
                        str(self.cert)], check=True, capture_output=True, timeout=60)
        self._key = key

    # ---- test controls ----
    def objects(self, plural, namespace=None):
        with self.lock:
            return [o for (p, ns, _), o in sorted(self.store.items())
                    if p == plural and (namespace is None or ns == namespace)]

    def set_status(self, plural, namespace, name, status):
        with self.lock:
            self.store[(plural, namespace, name)]["status"] = status

    def set_log(self, namespace, pod, text):
        with self.lock:
            self.logs[(namespace, pod)] = text

    def forbid(self, plural, after=0, verbs=None):
        """Refuses requests on `plural` (403) — every verb, or only `verbs` ("create", ...) —
        once `after` more creates have passed."""
        with self.lock:
            self.forbidden[plural] = [after, set(verbs) if verbs else None]

    def start_pod(self, namespace, job_name, phase="Pending", container_statuses=None,
                  conditions=None):
        """What the Job controller would do: a pod for the Job, labelled as its template says
        (plus job-name), with its containers; returns the pod's name."""
        with self.lock:
            job = self.store[("jobs", namespace, job_name)]
            template = job["spec"]["template"]
            name = f"{job_name}-{secrets.token_hex(3)}"[:63]
            labels = dict(template["metadata"].get("labels", {}), **{
                "job-name": job_name, "batch.kubernetes.io/job-name": job_name,
                "controller-uid": job["metadata"]["uid"]})
            self.store[("pods", namespace, name)] = {
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name, "namespace": namespace, "labels": labels,
                             "uid": str(uuid.uuid4()), "resourceVersion": "1",
                             "creationTimestamp": datetime.datetime.now(
                                 datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                             "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job",
                                                  "name": job_name,
                                                  "uid": job["metadata"]["uid"],
                                                  "controller": True}]},
                "spec": template["spec"],
                "status": {"phase": phase, "containerStatuses": container_statuses or [],
                           "conditions": conditions or []}}
            return name

    def start_model_pod(self, namespace, deployment_name):
        """What the Deployment controller would do: a pod for the Deployment's template."""
        with self.lock:
            deployment = self.store[("deployments", namespace, deployment_name)]
            template = deployment["spec"]["template"]
            name = f"{deployment_name}-{secrets.token_hex(4)}"[:63]
            self.store[("pods", namespace, name)] = {
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name, "namespace": namespace,
                             "labels": dict(template["metadata"].get("labels", {})),
                             "uid": str(uuid.uuid4()), "resourceVersion": "1",
                             "creationTimestamp": "2026-01-01T00:00:00Z"},
                "spec": template["spec"], "status": {"phase": "Running"}}
            return name

    def set_pod_status(self, namespace, pod, **status):
        with self.lock:
            self.store[("pods", namespace, pod)]["status"].update(status)

    def kubeconfig(self, directory):
        path = pathlib.Path(directory) / "kubeconfig"
        path.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "fake",
            "clusters": [{"name": "fake", "cluster": {
                "server": self.url,
                "certificate-authority-data": base64.b64encode(self.cert.read_bytes()).decode()}}],
            "users": [{"name": "fake", "user": {"token": self.token}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}]}))
        return str(path)

    # ---- serving ----
    def __enter__(self):
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = 30  # a stalled client (also mid-handshake) gives up its thread

            def log_message(self, *args):
                pass

            def _answer(self, code, body, content_type="application/json"):
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self):
                try:
                    length = int(self.headers.get("Content-Length") or 0)
                except ValueError:
                    length = -1
                if length < 0 or length > (4 << 20):
                    self.close_connection = True
                    return self._answer(*_status(413, "RequestEntityTooLarge", "too large"))
                raw = self.rfile.read(length) if length else b""
                fake.requests.append((self.command, self.path, raw.decode("utf-8", "replace")))
                if self.headers.get("Authorization") != f"Bearer {fake.token}":
                    return self._answer(*_status(401, "Unauthorized", "Unauthorized"))
                url = urllib.parse.urlsplit(self.path)
                query = urllib.parse.parse_qs(url.query)
                code, body = fake._route(self.command, url.path, query, raw,
                                         self.headers.get("Content-Type", ""))
                if isinstance(body, str):
                    return self._answer(code, body.encode(), "text/plain")
                return self._answer(code, body)

            do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _handle

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self._key)
        # The handshake happens in each connection's own thread (on its first read), so a
        # client that stalls there holds no one else up.
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True,
                                                  do_handshake_on_connect=False)
        self.url = f"https://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()
        self._tls.cleanup()

    # ---- the API ----
    def _route(self, method, path, query, raw, content_type=""):
        if method == "GET" and path == "/api":
            return 200, {"kind": "APIVersions", "versions": ["v1"],
                         "serverAddressByClientCIDRs": []}
        if method == "GET" and path == "/apis":
            groups = {}
            for group, version, *_ in RESOURCES:
                if group:
                    groups.setdefault(group, version)
            return 200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                {"name": g, "versions": [{"groupVersion": f"{g}/{v}", "version": v}],
                 "preferredVersion": {"groupVersion": f"{g}/{v}", "version": v}}
                for g, v in groups.items()]}
        if method == "GET" and path == "/openapi/v3":
            # The OpenAPI v3 index: kubectl reads it to learn that the server validates fields
            # itself (the fieldValidation parameter), so it sends fieldValidation=Strict.
            versions = sorted({(g, v) for g, v, *_ in RESOURCES})
            return 200, {"paths": {
                (f"apis/{g}/{v}" if g else f"api/{v}"):
                    {"serverRelativeURL": (f"/openapi/v3/apis/{g}/{v}" if g else
                                           f"/openapi/v3/api/{v}") + "?hash=fake"}
                for g, v in versions}}
        if method == "GET" and path.startswith("/openapi/v3/"):
            return 200, _openapi_document(path[len("/openapi/v3/"):])
        if method == "GET" and path == "/version":
            return 200, {"major": "1", "minor": "32", "gitVersion": "v1.32.0-fake"}
        match = re.fullmatch(r"/(?:api/(v1)|apis/([^/]+)/([^/]+))(/.*)?", path)
        if not match:
            return _status(404, "NotFound", "the server could not find the requested resource")
        group = match.group(2) or ""
        version = match.group(1) or match.group(3)
        rest = match.group(4) or ""
        served = [r for r in RESOURCES if r[0] == group and r[1] == version]
        if not served:
            return _status(404, "NotFound", "the server could not find the requested resource")
        if rest == "" and method == "GET":
            return 200, {"kind": "APIResourceList", "apiVersion": "v1",
                         "groupVersion": f"{group}/{version}" if group else version,
                         "resources": [{"name": plural, "singularName": kind.lower(),
                                        "namespaced": namespaced, "kind": kind,
                                        "verbs": ["create", "delete", "get", "list", "patch",
                                                  "update", "watch"]}
                                       for _, _, plural, kind, namespaced in served] +
                         [{"name": "pods/log", "singularName": "", "namespaced": True,
                           "kind": "Pod", "verbs": ["get"]}] * (group == "")}
        parts = [p for p in rest.split("/") if p]
        namespace = None
        if len(parts) >= 3 and parts[0] == "namespaces":  # .../namespaces/NS/PLURAL[/NAME[/SUB]]
            namespace = parts[1]
            parts = parts[2:]
        if not parts:
            return _status(404, "NotFound", "the server could not find the requested resource")
        plural = parts[0]
        resource = next((r for r in served if r[2] == plural), None)
        if resource is None:
            return _status(404, "NotFound", "the server could not find the requested resource")
        _, _, _, kind, namespaced = resource
        verb = {"POST": "create", "DELETE": "delete", "PATCH": "patch", "PUT": "update"}.get(
            method, "get" if len(parts) > 1 else "list")
        rule = self.forbidden.get(plural)
        if rule and rule[0] > 0 and method == "POST":
            rule[0] -= 1
        elif rule and (rule[1] is None or verb in rule[1]):
            return _status(403, "Forbidden",
                           f'{plural} is forbidden: User "fake" cannot {verb} '
                           f'resource "{plural}" in API group "{group}" in the namespace '
                           f'"{namespace}"', {"kind": plural})
        name = parts[1] if len(parts) > 1 else None
        sub = parts[2] if len(parts) > 2 else None
        if sub == "log" and plural == "pods" and method == "GET":
            with self.lock:
                if (plural, namespace, name) not in self.store:
                    return _status(404, "NotFound", f'pods "{name}" not found',
                                   {"name": name, "kind": "pods"})
                return 200, self.logs.get((namespace, name), "")
        key = (plural, namespace if namespaced else None, name)
        with self.lock:
            if method == "PATCH" and content_type.startswith("application/apply-patch"):
                return self._apply(key, plural, kind, namespace if namespaced else None, group,
                                   version, raw)
            if method == "POST" and name is None:
                return self._create(plural, kind, namespace if namespaced else None, group,
                                    version, raw)
            if method == "GET" and name is None:
                selector = (query.get("labelSelector") or [""])[0]
                items = [o for (p, ns, _), o in sorted(self.store.items())
                         if p == plural and (namespace is None or ns == namespace)
                         and _matches(o, selector)]
                return 200, {"kind": f"{kind}List",
                             "apiVersion": f"{group}/{version}" if group else version,
                             "metadata": {"resourceVersion": "1"}, "items": items}
            if key not in self.store:
                return _status(404, "NotFound", f'{plural} "{name}" not found',
                               {"name": name, "kind": plural})
            if method == "GET":
                return 200, self.store[key]
            if method == "DELETE":
                obj = self.store.pop(key)
                if plural == "jobs":  # the Job's pods go with it (any propagation policy)
                    for k in [k for k, o in self.store.items() if k[0] == "pods" and
                              o["metadata"].get("labels", {}).get("job-name") == name]:
                        self.store.pop(k)
                return 200, obj
            if method == "PATCH":
                try:
                    patch = json.loads(raw or b"{}")
                except ValueError:
                    return _status(400, "BadRequest", "the patch is not JSON")
                self.store[key] = _merge(self.store[key], patch)
                return 200, self.store[key]
        return _status(405, "MethodNotAllowed", f"{method} is not supported here")

    def _apply(self, key, plural, kind, namespace, group, version, raw):
        """Server-side apply: creates the object, or replaces what the applier sent (its
        metadata's identity and its status stay); field ownership is not modelled."""
        if key not in self.store:
            return self._create(plural, kind, namespace, group, version, raw)
        try:
            obj = json.loads(raw)
        except ValueError:
            return _status(400, "BadRequest", "the apply patch is not JSON")
        old = self.store[key]
        for field in ("uid", "creationTimestamp"):
            obj.setdefault("metadata", {})[field] = old["metadata"][field]
        obj["metadata"]["resourceVersion"] = str(int(old["metadata"]["resourceVersion"]) + 1)
        obj["metadata"].setdefault("namespace", namespace)
        if "status" in old:
            obj["status"] = old["status"]
        self.store[key] = obj
        return 200, obj

    def _create(self, plural, kind, namespace, group, version, raw):
        try:
            obj = json.loads(raw)
        except ValueError:
            return _status(400, "BadRequest", "the body is not JSON")
        api_version = f"{group}/{version}" if group else version
        if obj.get("kind") != kind or obj.get("apiVersion") != api_version:
            return _status(400, "BadRequest", f"expected {api_version} {kind}")
        meta = obj.setdefault("metadata", {})
        name = meta.get("name", "")
        pattern = DNS_LABEL if kind in LABEL_NAMED else DNS_SUBDOMAIN
        if not pattern.match(name) or len(name) > 253:
            return _status(422, "Invalid",
                           f'{kind} "{name}" is invalid: metadata.name: Invalid value: "{name}": '
                           "a lowercase RFC 1123 name must consist of lower case alphanumeric "
                           "characters, '-' or '.'", {"name": name, "kind": kind})
        if namespace is not None:
            if meta.get("namespace", namespace) != namespace:
                return _status(400, "BadRequest", "the namespace of the object does not match")
            meta["namespace"] = namespace
            if ("namespaces", None, namespace) not in self.store and namespace != "default":
                return _status(404, "NotFound", f'namespaces "{namespace}" not found',
                               {"name": namespace, "kind": "namespaces"})
        key = (plural, namespace, name)
        if key in self.store:
            return _status(409, "AlreadyExists", f'{plural} "{name}" already exists',
                           {"name": name, "kind": plural})
        meta["uid"] = str(uuid.uuid4())
        meta["resourceVersion"] = "1"
        meta["creationTimestamp"] = datetime.datetime.now(datetime.timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%SZ")
        self.store[key] = obj
        return 201, obj


def _openapi_document(group_version_path):
    """A minimal OpenAPI v3 document of one group version: each resource's collection path
    with POST and PATCH taking the fieldValidation parameter, tagged with its kind."""
    parts = group_version_path.split("/")
    group, version = ("", parts[1]) if parts[0] == "api" else (parts[1], parts[2])
    paths = {}
    field_validation = [{"name": "fieldValidation", "in": "query", "schema": {"type": "string"}}]
    for g, v, plural, kind, namespaced in RESOURCES:
        if (g, v) != (group, version):
            continue
        base = f"/{group_version_path}" + ("/namespaces/{namespace}" if namespaced else "")
        gvk = [{"group": g, "version": v, "kind": kind}]
        paths[f"{base}/{plural}"] = {
            "post": {"parameters": field_validation, "x-kubernetes-group-version-kind": gvk[0],
                     "x-kubernetes-action": "post"}}
        paths[f"{base}/{plural}/{{name}}"] = {
            "patch": {"parameters": field_validation, "x-kubernetes-group-version-kind": gvk[0],
                      "x-kubernetes-action": "patch"}}
    return {"openapi": "3.0.0", "info": {"title": "fake", "version": version}, "paths": paths,
            "components": {"schemas": {}}}


def _matches(obj, selector):
    labels = obj.get("metadata", {}).get("labels", {})
    for term in filter(None, selector.split(",")):
        key, _, value = term.partition("=")
        if labels.get(key.rstrip("=")) != value.lstrip("="):
            return False
    return True


def _merge(base, patch):
    if not isinstance(base, dict) or not isinstance(patch, dict):
        return patch
    out = dict(base)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = _merge(base.get(key), value)
    return out

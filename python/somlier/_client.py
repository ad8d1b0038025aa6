"""HTTP client of the SoMLier / MLflow REST API (standard library only).

The tracking URI comes from `somlier.set_tracking_uri`, else SOMLIER_TRACKING_URI,
MLFLOW_TRACKING_URI or SOMLIER_SERVER. A token from SOMLIER_TOKEN or MLFLOW_TRACKING_TOKEN
is sent as `Authorization: Bearer <token>`. Errors are raised as `SomlierException`
carrying the server's error code and message.
"""
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request

_tracking_uri = None


class SomlierException(Exception):
    """An error answered by the server (or raised for a bad call), with its error code."""

    def __init__(self, message, error_code="INTERNAL_ERROR", http_status=None):
        super().__init__(message)
        self.message = message
        self.error_code = error_code
        self.http_status = http_status


def set_tracking_uri(uri):
    global _tracking_uri
    _tracking_uri = uri.rstrip("/") if uri else None


def get_tracking_uri():
    uri = (_tracking_uri or os.environ.get("SOMLIER_TRACKING_URI")
           or os.environ.get("MLFLOW_TRACKING_URI") or os.environ.get("SOMLIER_SERVER"))
    if not uri:
        raise SomlierException(
            "no tracking server: call somlier.set_tracking_uri('http://host:port') or set "
            "MLFLOW_TRACKING_URI", "INVALID_PARAMETER_VALUE")
    if not uri.startswith(("http://", "https://")):
        raise SomlierException(
            f"tracking URI {uri!r} must start with http:// or https:// (run `somlier server`)",
            "INVALID_PARAMETER_VALUE")
    return uri.rstrip("/")


def _headers(extra=None):
    headers = {"User-Agent": "somlier-python-client"}
    token = os.environ.get("SOMLIER_TOKEN") or os.environ.get("MLFLOW_TRACKING_TOKEN")
    if token:
        headers["Authorization"] = "Bearer " + token
    if extra:
        headers.update(extra)
    return headers


def _open(request, timeout):
    # Retry briefly on connection failures and 503 (a server that is starting or busy).
    delay = 0.2
    for attempt in range(6):
        try:
            return urllib.request.urlopen(request, timeout=timeout)
        except urllib.error.HTTPError as e:
            if e.code != 503 or attempt == 5:
                raise
        except urllib.error.URLError:
            if attempt == 5:
                raise
        time.sleep(delay)
        delay *= 2
    raise AssertionError("unreachable")


def _raise_for(error):
    body = error.read().decode("utf-8", "replace")
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = {}
    message = parsed.get("message") or parsed.get("detail") or body or str(error)
    raise SomlierException(message, parsed.get("error_code", "INTERNAL_ERROR"), error.code) from None


def call(method, endpoint, body=None, timeout=120):
    """Calls /api/2.0/mlflow/<endpoint>; GET sends `body` as the query string."""
    url = f"{get_tracking_uri()}/api/2.0/mlflow/{endpoint}"
    data = None
    if method == "GET":
        if body:
            url += "?" + urllib.parse.urlencode(body, doseq=True)
    else:
        data = json.dumps(body or {}).encode()
    request = urllib.request.Request(
        url, data=data, method=method, headers=_headers({"Content-Type": "application/json"}))
    try:
        with _open(request, timeout) as response:
            payload = response.read()
    except urllib.error.HTTPError as e:
        _raise_for(e)
    except urllib.error.URLError as e:
        raise SomlierException(f"cannot reach the tracking server at {get_tracking_uri()}: "
                               f"{e.reason}", "TEMPORARILY_UNAVAILABLE") from None
    return json.loads(payload) if payload else {}


def _artifact_url(relative):
    quoted = urllib.parse.quote(relative.strip("/"))
    return f"{get_tracking_uri()}/api/2.0/mlflow-artifacts/artifacts/{quoted}"


def artifact_path_of(uri):
    """'mlflow-artifacts:/1/abc/artifacts' -> '1/abc/artifacts'."""
    if not uri.startswith("mlflow-artifacts:"):
        raise SomlierException(f"artifact URI {uri!r} is not served by the tracking server",
                               "INVALID_PARAMETER_VALUE")
    rest = uri[len("mlflow-artifacts:"):]
    if rest.startswith("//"):  # mlflow-artifacts://host:port/path
        rest = rest[2:].split("/", 1)[1] if "/" in rest[2:] else ""
    return rest.strip("/")


def upload_file(local_path, relative):
    with open(local_path, "rb") as f:
        data = f.read()
    request = urllib.request.Request(_artifact_url(relative), data=data, method="PUT",
                                     headers=_headers({"Content-Type": "application/octet-stream"}))
    try:
        with _open(request, 600):
            pass
    except urllib.error.HTTPError as e:
        _raise_for(e)


def list_artifacts(relative):
    """One directory level: [(path relative to the root, is_dir, size)]."""
    url = (f"{get_tracking_uri()}/api/2.0/mlflow-artifacts/artifacts?"
           + urllib.parse.urlencode({"path": relative.strip("/")}))
    request = urllib.request.Request(url, headers=_headers())
    try:
        with _open(request, 120) as response:
            listing = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as e:
        _raise_for(e)
    base = relative.strip("/")
    return [(f"{base}/{f['path']}" if base else f["path"], f.get("is_dir", False),
             f.get("file_size", 0)) for f in listing.get("files", [])]


def download_tree(relative, destination):
    """Downloads the file or directory tree `relative` of the artifact root to `destination`."""
    entries = list_artifacts(relative)
    if not entries:  # a single file (or nothing, which the GET reports)
        _download_file(relative, destination)
        return
    os.makedirs(destination, exist_ok=True)
    for path, is_dir, _ in entries:
        target = os.path.join(destination, os.path.basename(path))
        if is_dir:
            download_tree(path, target)
        else:
            _download_file(path, target)


def _download_file(relative, destination):
    request = urllib.request.Request(_artifact_url(relative), headers=_headers())
    try:
        with _open(request, 600) as response:
            data = response.read()
    except urllib.error.HTTPError as e:
        _raise_for(e)
    os.makedirs(os.path.dirname(destination) or ".", exist_ok=True)
    with open(destination, "wb") as f:
        f.write(data)

"""The active run of this process and what is logged to it.

`start_run` attaches to the run named by SOMLIER_RUN_ID or MLFLOW_RUN_ID when set (as MLflow
does, so a run started by `somlier online train` receives the metrics), and otherwise
creates one in the experiment chosen by `set_experiment`, SOMLIER_EXPERIMENT_ID /
MLFLOW_EXPERIMENT_ID / MLFLOW_EXPERIMENT_NAME, or the default experiment "0". Metrics are
buffered and sent as log-batch requests of up to 1000 points: when the buffer is full, a
second after the last send, on `flush()`, and when the run ends (also at interpreter exit).

The run `start_run` returns is like MLflow's ActiveRun: `run.info` has RunInfo's attributes
(run_id, experiment_id, status, artifact_uri, ...) and `run.data` RunData's (params, metrics
and tags dicts), both as the server answered when the run started.
"""
import atexit
import getpass
import math
import os
import sys
import threading
import time

from . import _client
from ._client import SomlierException

_MAX_METRICS = 1000
_MAX_PARAMS = 100
_MAX_TAGS = 100
_FLUSH_SECONDS = 1.0

_lock = threading.RLock()
_experiment_id = None
_active = None
_metrics = []
_last_flush = time.monotonic()


def _int_or_none(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _number(value):
    try:
        return float(value)  # also "NaN", "Infinity" and "-Infinity", as the server sends them
    except (TypeError, ValueError):
        return value


class _Entity:
    """Attributes listed in `_FIELDS`; dict(entity) gives them as a dict, as MLflow's do."""

    _FIELDS = ()

    def __iter__(self):
        return ((name, getattr(self, name)) for name in self._FIELDS)

    def __repr__(self):
        fields = ", ".join(f"{name}={value!r}" for name, value in self)
        return f"<{type(self).__name__}: {fields}>"


class RunInfo(_Entity):
    """A run's metadata, with the attributes of MLflow's RunInfo (times in milliseconds since
    the epoch; end_time is None while the run has not ended)."""

    _FIELDS = ("artifact_uri", "end_time", "experiment_id", "lifecycle_stage", "run_id",
               "run_name", "run_uuid", "start_time", "status", "user_id")

    def __init__(self, info):
        self.run_id = info["run_id"]
        self.run_uuid = info.get("run_uuid") or self.run_id
        self.experiment_id = info["experiment_id"]
        self.run_name = info.get("run_name")
        self.user_id = info.get("user_id")
        self.status = info.get("status")
        self.start_time = _int_or_none(info.get("start_time"))
        self.end_time = _int_or_none(info.get("end_time"))
        self.artifact_uri = info.get("artifact_uri", "")
        self.lifecycle_stage = info.get("lifecycle_stage")


class RunData(_Entity):
    """A run's params, metrics (the latest value of each) and tags as dicts, like MLflow's
    RunData."""

    _FIELDS = ("metrics", "params", "tags")

    def __init__(self, data=None):
        data = data or {}
        self.params = {p["key"]: p.get("value") for p in data.get("params") or []}
        self.metrics = {m["key"]: _number(m.get("value")) for m in data.get("metrics") or []}
        self.tags = {t["key"]: t.get("value") for t in data.get("tags") or []}


class Run:
    """The active run, like MLflow's ActiveRun: `info` (a RunInfo) and `data` (a RunData) as
    the server answered when the run started; also run_id, experiment_id, artifact_uri."""

    def __init__(self, info, data=None):
        self.info = RunInfo(info)
        self.data = RunData(data)
        self.run_id = self.info.run_id
        self.experiment_id = self.info.experiment_id
        self.artifact_uri = self.info.artifact_uri

    def __repr__(self):
        return f"<Run: info={self.info!r}, data={self.data!r}>"

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            status = "FINISHED"
        elif issubclass(exc_type, KeyboardInterrupt):
            status = "KILLED"
        else:
            status = "FAILED"
        end_run(status)
        return False


def _now_ms():
    return int(time.time() * 1000)


def _json_number(value):
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def set_experiment(experiment_name=None, experiment_id=None):
    """Makes the named experiment (created when missing) or the given id the one new runs
    go to; returns its id."""
    global _experiment_id
    if experiment_id is not None:
        _client.call("GET", "experiments/get", {"experiment_id": str(experiment_id)})
        _experiment_id = str(experiment_id)
        return _experiment_id
    if not experiment_name:
        raise SomlierException("set_experiment needs a name or an id", "INVALID_PARAMETER_VALUE")
    try:
        found = _client.call("GET", "experiments/get-by-name", {"experiment_name": experiment_name})
        _experiment_id = found["experiment"]["experiment_id"]
    except SomlierException as e:
        if e.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        try:
            _experiment_id = _client.call("POST", "experiments/create",
                                          {"name": experiment_name})["experiment_id"]
        except SomlierException as created:
            if created.error_code != "RESOURCE_ALREADY_EXISTS":  # created meanwhile
                raise
            found = _client.call("GET", "experiments/get-by-name",
                                 {"experiment_name": experiment_name})
            _experiment_id = found["experiment"]["experiment_id"]
    return _experiment_id


def _default_experiment():
    if _experiment_id is not None:
        return _experiment_id
    env_id = os.environ.get("SOMLIER_EXPERIMENT_ID") or os.environ.get("MLFLOW_EXPERIMENT_ID")
    if env_id:
        return env_id
    env_name = os.environ.get("MLFLOW_EXPERIMENT_NAME")
    if env_name:
        return set_experiment(env_name)
    return "0"


def start_run(run_id=None, experiment_id=None, run_name=None, tags=None):
    """Starts (or attaches to) the active run; use it as a context manager to end it."""
    global _active
    with _lock:
        if _active is not None:
            raise SomlierException(
                f"run {_active.run_id} is already active; end it first (end_run) or use it",
                "INVALID_PARAMETER_VALUE")
        run_id = run_id or os.environ.get("SOMLIER_RUN_ID") or os.environ.get("MLFLOW_RUN_ID")
        if run_id:
            run = _client.call("GET", "runs/get", {"run_id": run_id})["run"]
            info = run["info"]
            if info.get("status") != "RUNNING":
                info = _client.call("POST", "runs/update",
                                    {"run_id": run_id, "status": "RUNNING"})["run_info"]
            _active = Run(info, run.get("data"))
            if tags:
                set_tags(tags)
                _active.data.tags.update((k, str(v)) for k, v in tags.items())
        else:
            try:
                user = getpass.getuser()
            except Exception:  # no passwd entry in some containers
                user = "unknown"
            all_tags = {"mlflow.user": user, "mlflow.source.type": "LOCAL",
                        "mlflow.source.name": os.path.basename(sys.argv[0] or "python")}
            all_tags.update(tags or {})
            body = {"experiment_id": str(experiment_id or _default_experiment()),
                    "start_time": _now_ms(), "user_id": user,
                    "tags": [{"key": k, "value": str(v)} for k, v in all_tags.items()]}
            if run_name:
                body["run_name"] = run_name
            run = _client.call("POST", "runs/create", body)["run"]
            _active = Run(run["info"], run.get("data"))
        return _active


def active_run():
    return _active


def active_run_or_start():
    return _active or start_run()


def end_run(status="FINISHED"):
    """Sends buffered metrics and marks the active run `status` (FINISHED, FAILED, KILLED)."""
    global _active
    with _lock:
        if _active is None:
            return
        try:
            flush()
        finally:
            run, _active = _active, None
            _client.call("POST", "runs/update",
                         {"run_id": run.run_id, "status": status, "end_time": _now_ms()})


def flush():
    """Sends the buffered metrics now."""
    global _metrics, _last_flush
    with _lock:
        if _active is None:
            return
        while _metrics:
            batch, _metrics = _metrics[:_MAX_METRICS], _metrics[_MAX_METRICS:]
            _client.call("POST", "runs/log-batch", {"run_id": _active.run_id, "metrics": batch})
        _last_flush = time.monotonic()


def log_metric(key, value, step=None, timestamp=None):
    log_metrics({key: value}, step=step, timestamp=timestamp)


def log_metrics(metrics, step=None, timestamp=None):
    with _lock:
        run = active_run_or_start()
        stamp = timestamp if timestamp is not None else _now_ms()
        for key, value in metrics.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) and not hasattr(
                    value, "__float__"):
                raise SomlierException(f"metric {key!r} must be a number, got {value!r}",
                                       "INVALID_PARAMETER_VALUE")
            _metrics.append({"key": key, "value": _json_number(value), "timestamp": stamp,
                             "step": int(step or 0)})
        if len(_metrics) >= _MAX_METRICS or time.monotonic() - _last_flush >= _FLUSH_SECONDS:
            flush()
        return run


def log_param(key, value):
    log_params({key: value})


def log_params(params):
    run = active_run_or_start()
    items = [{"key": k, "value": str(v)} for k, v in params.items()]
    for i in range(0, len(items), _MAX_PARAMS):
        _client.call("POST", "runs/log-batch",
                     {"run_id": run.run_id, "params": items[i:i + _MAX_PARAMS]})


def set_tag(key, value):
    set_tags({key: value})


def set_tags(tags):
    run = active_run_or_start()
    items = [{"key": k, "value": str(v)} for k, v in tags.items()]
    for i in range(0, len(items), _MAX_TAGS):
        _client.call("POST", "runs/log-batch", {"run_id": run.run_id, "tags": items[i:i + _MAX_TAGS]})


def _artifact_root(run):
    return _client.artifact_path_of(run.artifact_uri)


def log_artifact(local_path, artifact_path=None):
    """Uploads a file to the active run's artifacts (under `artifact_path`, if given)."""
    run = active_run_or_start()
    target = "/".join(p for p in (_artifact_root(run), (artifact_path or "").strip("/"),
                                  os.path.basename(local_path)) if p)
    _client.upload_file(local_path, target)


def log_artifacts(local_dir, artifact_path=None):
    """Uploads a directory tree to the active run's artifacts."""
    run = active_run_or_start()
    base = "/".join(p for p in (_artifact_root(run), (artifact_path or "").strip("/")) if p)
    for root, _, files in os.walk(local_dir):
        for name in sorted(files):
            local = os.path.join(root, name)
            relative = os.path.relpath(local, local_dir).replace(os.sep, "/")
            _client.upload_file(local, f"{base}/{relative}")


@atexit.register
def _end_at_exit():
    if _active is not None:
        try:
            end_run("FINISHED")
        except Exception as e:  # the interpreter is exiting; say why the run was not ended
            print(f"somlier: could not end run {_active.run_id if _active else ''}: {e}",
                  file=sys.stderr)

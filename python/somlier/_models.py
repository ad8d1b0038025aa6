"""Models in the MLflow model format: writing and reading a model directory's MLmodel, logging
it to a run, registering it and resolving and downloading model URIs. Loading a model is the
flavor table's (`_flavors`), which builds on this module; this module imports no flavor.

A model directory holds `MLmodel` (YAML: flavors, run_id, utc_time_created, model_uuid,
artifact_path), the flavor's files, and conda.yaml / python_env.yaml / requirements.txt.
Flavors are written the way MLflow writes them (loader modules `mlflow.sklearn` and
`mlflow.pytorch`), so MLflow can load SoMLier's models and SoMLier can load MLflow's.
"""
import datetime
import json
import os
import platform
import shutil
import tempfile
import uuid

from . import _client, _tracking, _yaml
from ._client import SomlierException


class ImportFailure(Exception):
    """A model file from outside SoMLier that does not load as its flavor (register_v2, see
    `_import_model`); `kind` is the error it reports, e.g. not_sklearn or weights_mismatch."""

    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind


def python_version():
    return platform.python_version()


def write_environment(path, pip_requirements):
    """conda.yaml, python_env.yaml and requirements.txt for `pip_requirements`."""
    with open(os.path.join(path, "requirements.txt"), "w") as f:
        f.write("\n".join(pip_requirements))
    with open(os.path.join(path, "conda.yaml"), "w") as f:
        f.write(_yaml.dump({
            "name": "somlier-env",
            "channels": ["conda-forge"],
            "dependencies": [f"python={python_version()}", "pip", {"pip": list(pip_requirements)}],
        }))
    with open(os.path.join(path, "python_env.yaml"), "w") as f:
        f.write(_yaml.dump({
            "python": python_version(),
            "build_dependencies": ["pip"],
            "dependencies": ["-r requirements.txt"],
        }))


def new_mlmodel(flavors, run_id=None, artifact_path=None):
    model = {
        "flavors": flavors,
        "model_uuid": uuid.uuid4().hex,
        "utc_time_created": datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M:%S.%f"),
    }
    if run_id:
        model["run_id"] = run_id
    if artifact_path:
        model["artifact_path"] = artifact_path
    return model


def write_mlmodel(path, model):
    with open(os.path.join(path, "MLmodel"), "w") as f:
        f.write(_yaml.dump(model))


def read_mlmodel(path):
    mlmodel = os.path.join(path, "MLmodel")
    if not os.path.exists(mlmodel):
        raise SomlierException(f"{path} is not a model directory (it has no MLmodel file)",
                               "RESOURCE_DOES_NOT_EXIST")
    with open(mlmodel) as f:
        model = _yaml.load(f.read()) or {}
    if not isinstance(model.get("flavors"), dict):
        raise SomlierException(f"{mlmodel} has no flavors", "INVALID_PARAMETER_VALUE")
    return model


def copy_code_paths(path, code_paths):
    """Copies code files/directories into <path>/code; returns "code" or None."""
    if not code_paths:
        return None
    code_dir = os.path.join(path, "code")
    os.makedirs(code_dir, exist_ok=True)
    for source in code_paths:
        target = os.path.join(code_dir, os.path.basename(os.path.normpath(source)))
        if os.path.isdir(source):
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target)
    return "code"


def log_model(save, artifact_path, registered_model_name=None, **save_kwargs):
    """Saves a model with `save(path, run_id=..., artifact_path=...)` into the active run's
    artifacts under `artifact_path`, records it (runs/log-model) and optionally registers it.
    Returns {"model_uri", "run_id", "artifact_path", "registered_model_version"}."""
    run = _tracking.active_run_or_start()
    with tempfile.TemporaryDirectory(prefix="somlier-model-") as tmp:
        local = os.path.join(tmp, "model")
        model = save(local, run_id=run.run_id, artifact_path=artifact_path, **save_kwargs)
        _tracking.log_artifacts(local, artifact_path)
    _client.call("POST", "runs/log-model", {"run_id": run.run_id, "model_json": json.dumps(model)})
    info = {"model_uri": f"runs:/{run.run_id}/{artifact_path}", "run_id": run.run_id,
            "artifact_path": artifact_path, "registered_model_version": None}
    if registered_model_name:
        info["registered_model_version"] = register_model(
            info["model_uri"], registered_model_name)
    return info


def register_model(model_uri, name):
    """Registers a runs:/ URI as a new version of `name` (created when missing); returns the
    version number as a string."""
    if not model_uri.startswith("runs:/"):
        raise SomlierException("register_model takes a runs:/RUN_ID/PATH URI",
                               "INVALID_PARAMETER_VALUE")
    run_id, _, path = model_uri[len("runs:/"):].partition("/")
    try:
        _client.call("POST", "registered-models/create", {"name": name})
    except SomlierException as e:
        if e.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    run = _client.call("GET", "runs/get", {"run_id": run_id})["run"]
    source = run["info"]["artifact_uri"].rstrip("/") + "/" + path.strip("/")
    created = _client.call("POST", "model-versions/create",
                           {"name": name, "source": source, "run_id": run_id})
    return created["model_version"]["version"]


def resolve_model_uri(model_uri):
    """models:/NAME/VERSION, models:/NAME/STAGE, models:/NAME/latest, models:/NAME@ALIAS and
    runs:/RUN_ID/PATH -> the artifact URI of the model's directory."""
    if model_uri.startswith("runs:/"):
        run_id, _, path = model_uri[len("runs:/"):].partition("/")
        run = _client.call("GET", "runs/get", {"run_id": run_id})["run"]
        return run["info"]["artifact_uri"].rstrip("/") + ("/" + path.strip("/") if path else "")
    name, version = resolve_model_version(model_uri)
    return _client.call("GET", "model-versions/get-download-uri",
                        {"name": name, "version": version})["artifact_uri"]


def resolve_model_version(model_uri):
    """models:/NAME/VERSION, models:/NAME/STAGE, models:/NAME/latest, models:/NAME@ALIAS ->
    (NAME, the version number it names now, as a string)."""
    if not model_uri.startswith("models:/"):
        raise SomlierException(
            f"model URI {model_uri!r} is not models:/NAME/VERSION, models:/NAME@ALIAS or "
            "runs:/RUN_ID/PATH", "INVALID_PARAMETER_VALUE")
    rest = model_uri[len("models:/"):].strip("/")
    if "@" in rest and "/" not in rest:
        name, alias = rest.rsplit("@", 1)
        version = _client.call("GET", "registered-models/alias",
                               {"name": name, "alias": alias})["model_version"]["version"]
    else:
        name, _, suffix = rest.rpartition("/")
        if not name:
            raise SomlierException(f"model URI {model_uri!r} names no version",
                                   "INVALID_PARAMETER_VALUE")
        if suffix.isdigit():
            version = suffix
        else:
            stages = [] if suffix.lower() == "latest" else [suffix]
            latest = _client.call("POST", "registered-models/get-latest-versions",
                                  {"name": name, "stages": stages}).get("model_versions", [])
            if not latest:
                raise SomlierException(f"registered model {name!r} has no version in {suffix!r}",
                                       "RESOURCE_DOES_NOT_EXIST")
            version = str(max(int(v["version"]) for v in latest))
    return name, version


def download_model(model_uri, destination=None):
    """A local directory holding the model: `model_uri` itself when it is a directory, else a
    download of its files (into `destination`, or a new temporary directory)."""
    if os.path.isdir(model_uri):
        return model_uri
    if model_uri.startswith("file://") and os.path.isdir(model_uri[7:]):
        return model_uri[7:]
    artifact_uri = resolve_model_uri(model_uri)
    destination = destination or tempfile.mkdtemp(prefix="somlier-model-")
    _client.download_tree(_client.artifact_path_of(artifact_uri), destination)
    return destination


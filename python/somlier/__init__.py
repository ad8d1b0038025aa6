"""SoMLier's Python client: log runs to a SoMLier (or MLflow) tracking server, save and load
models in the MLflow model format. Standard library only, plus scikit-learn or PyTorch for
their flavors.

    import somlier
    somlier.set_tracking_uri("http://127.0.0.1:5000")   # or MLFLOW_TRACKING_URI
    somlier.set_experiment("my-project")
    with somlier.start_run():
        somlier.log_param("alpha", 0.1)
        somlier.log_metric("rmse", 0.42)
        somlier.sklearn.log_model(model, "model")
    model = somlier.load_model("models:/my-model/1")

`somlier python-path` prints the directory to put on PYTHONPATH.
"""
from . import pytorch, sklearn  # noqa: F401  (submodules: somlier.sklearn.log_model, ...)
from ._client import SomlierException, get_tracking_uri, set_tracking_uri
from ._flavors import load_model
from ._models import register_model
from ._tracking import (active_run, end_run, flush, log_artifact, log_artifacts, log_metric,
                        log_metrics, log_param, log_params, set_experiment, set_tag, set_tags,
                        start_run)

__all__ = [
    "SomlierException", "active_run", "end_run", "flush", "get_tracking_uri", "load_model",
    "log_artifact", "log_artifacts", "log_metric", "log_metrics", "log_param", "log_params",
    "pytorch", "register_model", "set_experiment", "set_tag", "set_tags", "set_tracking_uri",
    "sklearn", "start_run",
]

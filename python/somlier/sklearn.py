"""The scikit-learn flavor: a pickled estimator in model.pkl, with MLflow's `sklearn` and
`python_function` (loader `mlflow.sklearn`) flavor blocks."""
import os
import pickle

from . import _models

_PREDICT_FNS = ("predict", "predict_proba", "predict_log_proba", "predict_joint_log_proba",
                "score")


def save_model(sk_model, path, run_id=None, artifact_path=None, pyfunc_predict_fn="predict"):
    """Writes `sk_model` as a model directory at `path` (which must not exist); returns the
    MLmodel contents."""
    import sklearn
    if pyfunc_predict_fn not in _PREDICT_FNS:
        raise ValueError(f"pyfunc_predict_fn {pyfunc_predict_fn!r} is not one of {_PREDICT_FNS}")
    if not hasattr(sk_model, pyfunc_predict_fn):
        raise TypeError(f"{type(sk_model).__name__} has no {pyfunc_predict_fn}() method")
    os.makedirs(path)
    with open(os.path.join(path, "model.pkl"), "wb") as f:
        pickle.dump(sk_model, f, protocol=pickle.DEFAULT_PROTOCOL)
    model = _models.new_mlmodel({
        "python_function": {
            "loader_module": "mlflow.sklearn",
            "model_path": "model.pkl",
            "predict_fn": pyfunc_predict_fn,
            "python_version": _models.python_version(),
            "env": {"conda": "conda.yaml", "virtualenv": "python_env.yaml"},
        },
        "sklearn": {
            "pickled_model": "model.pkl",
            "sklearn_version": sklearn.__version__,
            "serialization_format": "pickle",
            "code": None,
        },
    }, run_id=run_id, artifact_path=artifact_path)
    _models.write_mlmodel(path, model)
    _models.write_environment(path, [f"scikit-learn=={sklearn.__version__}"])
    return model


def log_model(sk_model, artifact_path="model", registered_model_name=None,
              pyfunc_predict_fn="predict"):
    """Logs `sk_model` to the active run under `artifact_path`; see somlier.log_model."""
    def save(path, run_id, artifact_path, **kwargs):
        return save_model(sk_model, path, run_id=run_id, artifact_path=artifact_path, **kwargs)
    return _models.log_model(save, artifact_path, registered_model_name,
                             pyfunc_predict_fn=pyfunc_predict_fn)


def load_model(model_uri):
    """The estimator of a scikit-learn model (a URI or a local model directory)."""
    path = _models.download_model(model_uri)
    flavor = _models.read_mlmodel(path)["flavors"].get("sklearn")
    if flavor is None:
        raise _models.SomlierException(f"the model at {model_uri} is not a scikit-learn model",
                                       "INVALID_PARAMETER_VALUE")
    fmt = flavor.get("serialization_format", "pickle")
    with open(os.path.join(path, flavor["pickled_model"]), "rb") as f:
        if fmt == "cloudpickle":
            from joblib.externals import cloudpickle
            return cloudpickle.load(f)
        if fmt != "pickle":
            raise _models.SomlierException(f"serialization format {fmt!r} is not supported",
                                           "INVALID_PARAMETER_VALUE")
        return pickle.load(f)

"""The scikit-learn flavor: a pickled estimator in model.pkl, with MLflow's `sklearn` and
`python_function` (loader `mlflow.sklearn`) flavor blocks."""
import os
import pickle

from . import _models, _signature

_PREDICT_FNS = ("predict", "predict_proba", "predict_log_proba", "predict_joint_log_proba",
                "score")


def save_model(sk_model, path, run_id=None, artifact_path=None, pyfunc_predict_fn="predict",
               signature=None, input_example=None):
    """Writes `sk_model` as a model directory at `path` (which must not exist); returns the
    MLmodel contents. `signature` (MLflow's format), or one inferred from `input_example`
    (its inputs, and its outputs from the model's prediction), is recorded in MLmodel, and
    the example is saved beside it (see somlier._signature)."""
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
    _signature.prepare(path, model, signature, input_example,
                       predict=getattr(sk_model, pyfunc_predict_fn))
    _models.write_mlmodel(path, model)
    _models.write_environment(path, [f"scikit-learn=={sklearn.__version__}"])
    return model


def log_model(sk_model, artifact_path="model", registered_model_name=None,
              pyfunc_predict_fn="predict", signature=None, input_example=None):
    """Logs `sk_model` to the active run under `artifact_path`; see somlier.log_model and
    save_model."""
    def save(path, run_id, artifact_path, **kwargs):
        return save_model(sk_model, path, run_id=run_id, artifact_path=artifact_path, **kwargs)
    return _models.log_model(save, artifact_path, registered_model_name,
                             pyfunc_predict_fn=pyfunc_predict_fn, signature=signature,
                             input_example=input_example)


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


def _serving(model, mlmodel):
    """How a model server calls the estimator (see _flavors): the pyfunc flavor's predict_fn;
    a model fitted on a DataFrame gets one (a pipeline may select columns by name)."""
    names = getattr(model, "feature_names_in_", None)
    n_features = getattr(model, "n_features_in_", None)
    fn = mlmodel.get("flavors", {}).get("python_function", {}).get("predict_fn", "predict")
    return {
        "predict": getattr(model, fn),
        "frame": names is not None,
        "feature_names": [str(name) for name in names] if names is not None else None,
        "n_features": int(n_features) if n_features is not None else None,
    }


def _read_file(path):
    """The estimator in a joblib or pickle file from outside SoMLier (register_v2)."""
    try:
        import joblib
        model = joblib.load(path)
    except Exception as joblib_error:  # noqa: BLE001 - not a joblib file: try plain pickle
        try:
            with open(path, "rb") as f:
                model = pickle.load(f)
        except Exception:  # noqa: BLE001
            # Only the exception's type: its text can quote the file (pickle's "invalid load
            # key", joblib's KeyError of the first byte), which may not be the caller's to read.
            raise _models.ImportFailure(
                "not_sklearn", "the file is not a scikit-learn model saved with "
                f"joblib or pickle ({type(joblib_error).__name__})") from None
    module = type(model).__module__ or ""
    if not module.startswith("sklearn") and not _is_sklearn_estimator(model):
        raise _models.ImportFailure("not_sklearn", f"the file holds a {module}."
                                    f"{type(model).__name__}, not a scikit-learn model")
    if not hasattr(model, "predict"):
        raise _models.ImportFailure("not_sklearn", f"the {type(model).__name__} in the file "
                                    "has no predict() method")
    return model


def _is_sklearn_estimator(model):
    try:
        from sklearn.base import BaseEstimator
    except ImportError:
        return False
    return isinstance(model, BaseEstimator)


def _import_file(path, out_dir):
    """register_v2 (see _flavors): writes the estimator in `path` as a model directory at
    `out_dir`; returns its class name."""
    model = _read_file(path)
    save_model(model, out_dir)
    return type(model).__name__

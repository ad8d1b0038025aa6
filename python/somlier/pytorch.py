"""The PyTorch flavor: the whole module saved with torch.save in data/model.pth, with MLflow's
`pytorch` and `python_function` (loader `mlflow.pytorch`) flavor blocks.

Classes are pickled by reference, so they must be importable when the model is loaded:
pass the files that define them as `code_paths` (copied into the model's code/ directory,
which loading puts on sys.path). Classes defined in a script's __main__ are pickled by
value (cloudpickle), as MLflow does; the pickle module is recorded as MLflow's,
`mlflow.pytorch.pickle_module`, so MLflow loads these models unchanged.
"""
import importlib
import os
import sys

from . import _models

_PICKLE_MODULE_FILE = "pickle_module_info.txt"
_MLFLOW_PICKLE_MODULE = "mlflow.pytorch.pickle_module"


def save_model(pytorch_model, path, run_id=None, artifact_path=None, code_paths=None):
    """Writes `pytorch_model` (a torch.nn.Module) as a model directory at `path`; returns the
    MLmodel contents."""
    import torch
    if not isinstance(pytorch_model, torch.nn.Module):
        raise TypeError(f"expected a torch.nn.Module, got {type(pytorch_model).__name__}")
    os.makedirs(os.path.join(path, "data"))
    code = _models.copy_code_paths(path, code_paths)
    from . import _pickle_module
    torch.save(pytorch_model, os.path.join(path, "data", "model.pth"), pickle_module=_pickle_module)
    with open(os.path.join(path, "data", _PICKLE_MODULE_FILE), "w") as f:
        f.write(_MLFLOW_PICKLE_MODULE)
    pyfunc = {
        "loader_module": "mlflow.pytorch",
        "data": "data",
        "pickle_module_name": _MLFLOW_PICKLE_MODULE,
        "python_version": _models.python_version(),
        "env": {"conda": "conda.yaml", "virtualenv": "python_env.yaml"},
    }
    if code:
        pyfunc["code"] = code
    model = _models.new_mlmodel({
        "python_function": pyfunc,
        "pytorch": {"model_data": "data", "pytorch_version": str(torch.__version__), "code": code},
    }, run_id=run_id, artifact_path=artifact_path)
    _models.write_mlmodel(path, model)
    _models.write_environment(path, [f"torch=={torch.__version__}"])
    return model


def log_model(pytorch_model, artifact_path="model", registered_model_name=None, code_paths=None):
    """Logs `pytorch_model` to the active run under `artifact_path`; see somlier.log_model."""
    def save(path, run_id, artifact_path, **kwargs):
        return save_model(pytorch_model, path, run_id=run_id, artifact_path=artifact_path,
                          **kwargs)
    return _models.log_model(save, artifact_path, registered_model_name, code_paths=code_paths)


def load_model(model_uri, map_location="cpu"):
    """The torch.nn.Module of a PyTorch model (a URI or a local model directory), in eval mode."""
    import torch
    path = _models.download_model(model_uri)
    flavor = _models.read_mlmodel(path)["flavors"].get("pytorch")
    if flavor is None:
        raise _models.SomlierException(f"the model at {model_uri} is not a PyTorch model",
                                       "INVALID_PARAMETER_VALUE")
    if flavor.get("code"):
        code_dir = os.path.join(path, flavor["code"])
        if code_dir not in sys.path:
            sys.path.insert(0, code_dir)
    data = os.path.join(path, flavor["model_data"])
    pickle_module_name = "pickle"
    info = os.path.join(data, _PICKLE_MODULE_FILE)
    if os.path.exists(info):
        with open(info) as f:
            pickle_module_name = f.read().strip() or "pickle"
    if pickle_module_name == _MLFLOW_PICKLE_MODULE:  # the same thing, without needing MLflow
        pickle_module_name = "somlier._pickle_module"
    pickle_module = importlib.import_module(pickle_module_name)
    model = torch.load(os.path.join(data, "model.pth"), map_location=map_location,
                       pickle_module=pickle_module)
    model.eval()
    return model

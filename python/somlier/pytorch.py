"""The PyTorch flavor: the whole module saved with torch.save in data/model.pth, with MLflow's
`pytorch` and `python_function` (loader `mlflow.pytorch`) flavor blocks.

Classes are pickled by reference, so they must be importable when the model is loaded:
pass the files that define them as `code_paths` (copied into the model's code/ directory,
which loading puts on sys.path). Classes defined in a script's __main__ are pickled by
value (cloudpickle), as MLflow does; the pickle module is recorded as MLflow's,
`mlflow.pytorch.pickle_module`, so MLflow loads these models unchanged.
"""
import importlib
import importlib.util
import os
import sys

from . import _models, _signature

_PICKLE_MODULE_FILE = "pickle_module_info.txt"
_MLFLOW_PICKLE_MODULE = "mlflow.pytorch.pickle_module"


def save_model(pytorch_model, path, run_id=None, artifact_path=None, code_paths=None,
               signature=None, input_example=None):
    """Writes `pytorch_model` (a torch.nn.Module) as a model directory at `path`; returns the
    MLmodel contents. `signature`, or one inferred from `input_example` (an array or tensor:
    its inputs, and the model's output on it), is recorded in MLmodel (somlier._signature)."""
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

    def predict(example):
        with torch.no_grad():
            return pytorch_model(torch.as_tensor(example))
    _signature.prepare(path, model, signature, input_example, predict=predict)
    _models.write_mlmodel(path, model)
    _models.write_environment(path, [f"torch=={torch.__version__}"])
    return model


def log_model(pytorch_model, artifact_path="model", registered_model_name=None, code_paths=None,
              signature=None, input_example=None):
    """Logs `pytorch_model` to the active run under `artifact_path`; see somlier.log_model and
    save_model."""
    def save(path, run_id, artifact_path, **kwargs):
        return save_model(pytorch_model, path, run_id=run_id, artifact_path=artifact_path,
                          **kwargs)
    return _models.log_model(save, artifact_path, registered_model_name, code_paths=code_paths,
                             signature=signature, input_example=input_example)


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


def _serving(model, mlmodel):
    """How a model server calls the module (see _flavors): float32 rows in, the first output
    out, without gradients; SOMLIER_WORKER_THREADS caps torch's threads."""
    import numpy as np
    import torch
    threads = os.environ.get("SOMLIER_WORKER_THREADS")
    if threads:
        torch.set_num_threads(int(threads))
    n_features = None
    for module in model.modules():
        if isinstance(module, torch.nn.Linear):
            n_features = int(module.in_features)
            break

    def predict(matrix):
        with torch.no_grad():
            out = model(torch.from_numpy(matrix.astype(np.float32)))
        if isinstance(out, (tuple, list)):
            out = out[0]
        return out.detach().cpu().numpy()

    return {"predict": predict, "frame": False, "takes_frames": False, "feature_names": None,
            "n_features": n_features}


def _load_class(module_file, class_name):
    if not os.path.isfile(module_file):
        raise _models.ImportFailure("module_not_found", f"module file {module_file} does not "
                                    "exist")
    name = os.path.splitext(os.path.basename(module_file))[0]
    sys.path.insert(0, os.path.dirname(os.path.abspath(module_file)))
    spec = importlib.util.spec_from_file_location(name, module_file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # so the saved model pickles the class by this module's name
    try:
        spec.loader.exec_module(module)
    except Exception as error:  # noqa: BLE001
        raise _models.ImportFailure(
            "module_not_found", f"module {os.path.basename(module_file)} cannot be imported: "
            f"{type(error).__name__}: {error}") from None
    cls = getattr(module, class_name, None)
    if cls is None or not isinstance(cls, type):
        defined = sorted(n for n, v in vars(module).items()
                         if isinstance(v, type) and v.__module__ == name)
        raise _models.ImportFailure(
            "class_not_found", f"class {class_name} is not defined in "
            f"{os.path.basename(module_file)} (it defines: {', '.join(defined) or 'no classes'})")
    return cls


def _read_file(path, module_file, class_name):
    """An instance of `class_name` (defined by `module_file`) with the weights in `path`, a
    state dict or whole module from outside SoMLier (register_v2); in eval mode."""
    import torch
    cls = _load_class(module_file, class_name)
    try:
        model = cls()
    except Exception as error:  # noqa: BLE001
        raise _models.ImportFailure("class_not_found", f"{class_name}() cannot be created "
                                    f"without arguments: {type(error).__name__}: {error}") from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # noqa: BLE001 - its text can quote the file: the type only
        raise _models.ImportFailure("unreadable", "the file is not a PyTorch state dict saved "
                                    f"with torch.save ({type(error).__name__})") from None
    if isinstance(state, torch.nn.Module):
        state = state.state_dict()
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise _models.ImportFailure("unreadable", f"the file holds a {type(state).__name__}, "
                                    "not a PyTorch state dict")
    try:
        model.load_state_dict(state, strict=True)
    except Exception as error:  # noqa: BLE001
        text = str(error).strip().replace("\n\t", " ").replace("\n", " ")
        raise _models.ImportFailure("weights_mismatch", f"the weights do not fit {class_name}: "
                                    f"{text}") from None
    model.eval()
    return model


def _import_file(path, out_dir, module_file, class_name):
    """register_v2 (see _flavors): writes `class_name` with the weights in `path` as a model
    directory at `out_dir`, with `module_file` in its code/; describes the model."""
    model = _read_file(path, module_file, class_name)
    save_model(model, out_dir, code_paths=[module_file])
    return f"{class_name} with {sum(p.numel() for p in model.parameters())} parameters"

"""register_v2's Python half: proves that a model file from outside SoMLier loads, then writes
it as an MLflow model directory.

  python -m somlier._import_model sklearn FILE OUT_DIR
  python -m somlier._import_model pytorch FILE OUT_DIR MODULE_FILE CLASS_NAME

scikit-learn: FILE is a joblib or pickle file of an estimator (anything from sklearn with a
predict method). PyTorch: FILE is a state dict (or a whole saved module) for CLASS_NAME, which
MODULE_FILE defines; the class is instantiated without arguments and the weights are loaded
strictly. The model directory gets MODULE_FILE under code/, so loading it needs nothing else.

The last line on stdout is JSON: {"ok": true, "flavor", "detail"} or {"ok": false,
"error": KIND, "message"}, KIND one of not_sklearn, module_not_found, class_not_found,
weights_mismatch, unreadable, internal (anything else; the traceback is on stderr); the exit
code is 0 or 1. A message never quotes bytes of FILE (which may come from someone who cannot
read it): a file that does not load is described by the exception's type only.
"""
import importlib.util
import json
import os
import sys


class ImportFailure(Exception):
    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind


def _load_sklearn(path):
    try:
        import joblib
        model = joblib.load(path)
    except Exception as joblib_error:  # noqa: BLE001 - not a joblib file: try plain pickle
        try:
            import pickle
            with open(path, "rb") as f:
                model = pickle.load(f)
        except Exception:  # noqa: BLE001
            # Only the exception's type: its text can quote the file (pickle's "invalid load
            # key", joblib's KeyError of the first byte), which may not be the caller's to read.
            raise ImportFailure("not_sklearn", "the file is not a scikit-learn model saved with "
                                f"joblib or pickle ({type(joblib_error).__name__})") from None
    module = type(model).__module__ or ""
    if not module.startswith("sklearn") and not _is_sklearn_estimator(model):
        raise ImportFailure("not_sklearn", f"the file holds a {module}.{type(model).__name__}, "
                            "not a scikit-learn model")
    if not hasattr(model, "predict"):
        raise ImportFailure("not_sklearn", f"the {type(model).__name__} in the file has no "
                            "predict() method")
    return model


def _is_sklearn_estimator(model):
    try:
        from sklearn.base import BaseEstimator
    except ImportError:
        return False
    return isinstance(model, BaseEstimator)


def _load_class(module_file, class_name):
    if not os.path.isfile(module_file):
        raise ImportFailure("module_not_found", f"module file {module_file} does not exist")
    name = os.path.splitext(os.path.basename(module_file))[0]
    sys.path.insert(0, os.path.dirname(os.path.abspath(module_file)))
    spec = importlib.util.spec_from_file_location(name, module_file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # so the saved model pickles the class by this module's name
    try:
        spec.loader.exec_module(module)
    except Exception as error:  # noqa: BLE001
        raise ImportFailure("module_not_found", f"module {os.path.basename(module_file)} cannot "
                            f"be imported: {type(error).__name__}: {error}") from None
    cls = getattr(module, class_name, None)
    if cls is None or not isinstance(cls, type):
        defined = sorted(n for n, v in vars(module).items()
                         if isinstance(v, type) and v.__module__ == name)
        raise ImportFailure("class_not_found", f"class {class_name} is not defined in "
                            f"{os.path.basename(module_file)} (it defines: "
                            f"{', '.join(defined) or 'no classes'})")
    return cls


def _load_pytorch(path, module_file, class_name):
    import torch
    cls = _load_class(module_file, class_name)
    try:
        model = cls()
    except Exception as error:  # noqa: BLE001
        raise ImportFailure("class_not_found", f"{class_name}() cannot be created without "
                            f"arguments: {type(error).__name__}: {error}") from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # noqa: BLE001 - its text can quote the file: the type only
        raise ImportFailure("unreadable", "the file is not a PyTorch state dict saved with "
                            f"torch.save ({type(error).__name__})") from None
    if isinstance(state, torch.nn.Module):
        state = state.state_dict()
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ImportFailure("unreadable", f"the file holds a {type(state).__name__}, not a "
                            "PyTorch state dict")
    try:
        model.load_state_dict(state, strict=True)
    except Exception as error:  # noqa: BLE001
        text = str(error).strip().replace("\n\t", " ").replace("\n", " ")
        raise ImportFailure("weights_mismatch", f"the weights do not fit {class_name}: "
                            f"{text}") from None
    model.eval()
    return model


def main(argv):
    # The answer goes to the real stdout; anything the model's module prints goes to stderr.
    answer = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    def print(text):  # noqa: A001 - the answer line, on the saved stdout
        answer.write(text + "\n")
        answer.flush()

    try:
        if len(argv) == 3 and argv[0] == "sklearn":
            from . import sklearn
            model = _load_sklearn(argv[1])
            sklearn.save_model(model, argv[2])
            detail = type(model).__name__
            flavor = "sklearn"
        elif len(argv) == 5 and argv[0] == "pytorch":
            from . import pytorch
            model = _load_pytorch(argv[1], argv[3], argv[4])
            pytorch.save_model(model, argv[2], code_paths=[argv[3]])
            detail = f"{argv[4]} with {sum(p.numel() for p in model.parameters())} parameters"
            flavor = "pytorch"
        else:
            print(json.dumps({"ok": False, "error": "usage", "message": __doc__}))
            return 2
    except ImportFailure as failure:
        print(json.dumps({"ok": False, "error": failure.kind, "message": str(failure)}))
        return 1
    except Exception as error:  # noqa: BLE001 - the traceback goes to stderr only
        import traceback
        traceback.print_exc()
        print(json.dumps({"ok": False, "error": "internal", "message": "validating the model "
                          f"in Python failed ({type(error).__name__}); the log has the details"}))
        return 1
    print(json.dumps({"ok": True, "flavor": flavor, "detail": detail}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""The model flavors SoMLier loads, in its order of preference, and the one place that picks
one: `somlier.load_model`, the model server's worker (`_worker`) and register_v2's import
(`_import_model`) all go through `FLAVORS`.

A model directory can carry several flavors (MLflow writes `python_function` next to
`sklearn` or `pytorch`); the first entry of `FLAVORS` that applies to its MLmodel wins. Each
entry says:

  name         the flavor's key in MLmodel (what the worker reports in its handshake)
  applies      flavors -> whether this entry can load a model with these flavor blocks
  load         path of a local model directory -> the model object
  serving      (model, mlmodel) -> how a model server calls it: {"predict", "frame" (wants
               a DataFrame for a matrix), "takes_frames" (optional, default True: accepts a
               DataFrame), "feature_names", "n_features"} (see `_worker._Model`)
  import_file  register_v2: (FILE, OUT_DIR, *import_args) -> a one-line description of the
               model, after writing OUT_DIR as a model directory; None when the flavor cannot
               import files

The flavor modules (`sklearn`, `pytorch`) hold their loaders; `_models` holds the MLmodel
format and imports neither this module nor them, so there is no import cycle:
`_models` <- `sklearn`, `pytorch` <- `_flavors` <- `_worker`, `_import_model`, `somlier`.
"""
import importlib
import os
import sys

from . import _models, pytorch, sklearn
from ._client import SomlierException


class Flavor:
    """One entry of the flavor table."""

    def __init__(self, name, load, serving, applies=None, import_file=None, import_args=()):
        self.name = name
        self.load = load
        self.serving = serving
        self.applies = applies or (lambda flavors: name in flavors)
        self.import_file = import_file
        self.import_args = tuple(import_args)

    def __repr__(self):
        return f"<Flavor {self.name}>"


def _loadable_python_function(flavors):
    pyfunc = flavors.get("python_function")
    return bool(pyfunc and pyfunc.get("loader_module"))


def _load_python_function(path):
    """What a python_function model's loader module returns (`_load_pyfunc(data path)`),
    with the model's code/ directory on sys.path."""
    pyfunc = _models.read_mlmodel(path)["flavors"]["python_function"]
    code = pyfunc.get("code")
    if code:
        sys.path.insert(0, os.path.join(path, code))
    data = os.path.join(path, pyfunc["data"]) if pyfunc.get("data") else path
    return importlib.import_module(pyfunc["loader_module"])._load_pyfunc(data)


def _serve_python_function(model, mlmodel):
    return {"predict": model.predict, "frame": True, "feature_names": None, "n_features": None}


FLAVORS = (
    Flavor("sklearn", sklearn.load_model, sklearn._serving,
           import_file=sklearn._import_file),
    Flavor("pytorch", pytorch.load_model, pytorch._serving,
           import_file=pytorch._import_file, import_args=("MODULE_FILE", "CLASS_NAME")),
    Flavor("python_function", _load_python_function, _serve_python_function,
           applies=_loadable_python_function),
)


def names():
    """The flavor names, most preferred first."""
    return [flavor.name for flavor in FLAVORS]


def get(name):
    """The table's entry called `name`, or None."""
    for flavor in FLAVORS:
        if flavor.name == name:
            return flavor
    return None


def choose(flavors, model_uri):
    """The first entry that can load a model with these flavor blocks (MLmodel's `flavors`);
    raises when none can."""
    for flavor in FLAVORS:
        if flavor.applies(flavors):
            return flavor
    raise SomlierException(f"the model at {model_uri} has no flavor SoMLier can load "
                           f"({', '.join(flavors)})", "INVALID_PARAMETER_VALUE")


def load_model(model_uri):
    """Loads a model logged by SoMLier or MLflow: the scikit-learn estimator, the PyTorch
    module, or (for other python_function models) what its loader module returns."""
    path = _models.download_model(model_uri)
    flavor = choose(_models.read_mlmodel(path)["flavors"], model_uri)
    return flavor.load(path)

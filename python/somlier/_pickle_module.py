"""The pickle module PyTorch models are saved and loaded with, like MLflow's
`mlflow.pytorch.pickle_module`: cloudpickle's pickler for writing (classes defined in a
script's __main__ are stored by value), the standard unpickler for reading."""
from pickle import Unpickler, load, loads  # noqa: F401

try:
    from joblib.externals.cloudpickle import CloudPickler as Pickler, dump, dumps  # noqa: F401
except ImportError:  # without joblib, only importable classes can be saved
    from pickle import Pickler, dump, dumps  # noqa: F401

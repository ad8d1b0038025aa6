"""Model signatures and input examples in MLflow's MLmodel format.

A signature says what a model takes and gives. Column-based: a list of
{"type", "name", "required"} with MLflow's column types (string, long, integer, double,
float, boolean, datetime, binary). Tensor-based: a list of {"type": "tensor",
"tensor-spec": {"dtype", "shape"}} with -1 for the batch dimension. MLmodel stores each
list as JSON text under `signature.inputs` / `signature.outputs`.

`prepare(model_dir, mlmodel, signature, input_example, predict)` is what the flavors' save
functions call: an explicit signature (a dict, or an object with to_dict() such as
mlflow's ModelSignature) is written as given; without one, an input example makes one —
its inputs from the example, its outputs from `predict(example)` when `predict` is given —
as MLflow infers them. The example is saved as input_example.json.
"""
import json
import os

_EXAMPLE_FILE = "input_example.json"


def _column_type(dtype):
    import numpy as np
    try:
        kind = np.dtype(dtype).kind
    except TypeError:  # pandas' own dtypes: Int64, boolean, string, category, ...
        name = str(dtype).lower()
        if name.startswith(("int", "uint")):
            return "long"
        if name.startswith("float"):
            return "double"
        return "boolean" if name == "boolean" else "string"
    if kind == "b":
        return "boolean"
    if kind in "iu":
        return "long" if np.dtype(dtype).itemsize >= 8 else "integer"
    if kind == "f":
        return "double" if np.dtype(dtype).itemsize >= 8 else "float"
    if kind == "M":
        return "datetime"
    if kind == "S":
        return "binary"
    return "string"  # object columns: text (what MLflow infers for str values)


def _tensor_spec(array):
    shape = [-1] + [int(d) for d in array.shape[1:]]
    return {"type": "tensor", "tensor-spec": {"dtype": str(array.dtype), "shape": shape}}


def _schema(value):
    """The schema (a list of specs) of an example input or output."""
    import numpy as np
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a dependency of the ML stack here
        pd = None
    if pd is not None and isinstance(value, pd.DataFrame):
        return [{"type": _column_type(dtype), "name": str(name), "required": True}
                for name, dtype in value.dtypes.items()]
    if pd is not None and isinstance(value, pd.Series):
        return [{"type": _column_type(value.dtype), "required": True}]
    if isinstance(value, dict):
        return [dict(_tensor_spec(np.asarray(v)), name=str(k)) for k, v in value.items()]
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    array = np.asarray(value)
    if array.ndim == 0:
        array = array.reshape(1)
    return [_tensor_spec(array)]


def infer_signature(model_input, model_output=None):
    """The signature of a model taking `model_input` (a DataFrame, an array or a dict of
    arrays) and giving `model_output` (optional), in MLmodel's form."""
    signature = {"inputs": json.dumps(_schema(model_input))}
    if model_output is not None:
        signature["outputs"] = json.dumps(_schema(model_output))
    return signature


def _as_mlmodel_signature(signature):
    if hasattr(signature, "to_dict"):
        signature = signature.to_dict()
    if not isinstance(signature, dict) or "inputs" not in signature:
        raise TypeError("signature must be a dict with 'inputs' (and 'outputs'), or an object "
                        "with to_dict() such as mlflow.models.ModelSignature")
    out = {}
    for key in ("inputs", "outputs", "params"):
        value = signature.get(key)
        if value is None:
            continue
        out[key] = value if isinstance(value, str) else json.dumps(value)
    return out


def _save_example(model_dir, example):
    import numpy as np
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover
        pd = None
    if pd is not None and isinstance(example, pd.DataFrame):
        payload = json.loads(example.to_json(orient="split", index=False, date_format="iso"))
        payload.pop("index", None)
        info = {"artifact_path": _EXAMPLE_FILE, "type": "dataframe", "pandas_orient": "split"}
    else:
        if hasattr(example, "detach"):
            example = example.detach().cpu().numpy()
        payload = {"inputs": np.asarray(example).tolist()}
        info = {"artifact_path": _EXAMPLE_FILE, "type": "ndarray", "format": "tf-serving"}
    with open(os.path.join(model_dir, _EXAMPLE_FILE), "w") as f:
        json.dump(payload, f)
    return info


def prepare(model_dir, mlmodel, signature=None, input_example=None, predict=None):
    """Adds the signature (given, or inferred from `input_example`) and the saved example to
    `mlmodel` (the MLmodel dict being written to `model_dir`)."""
    if signature is not None:
        mlmodel["signature"] = _as_mlmodel_signature(signature)
    elif input_example is not None:
        output = None
        if predict is not None:
            try:
                output = predict(input_example)
            except Exception:  # noqa: BLE001 - a model that cannot run the example: inputs only
                output = None
        mlmodel["signature"] = infer_signature(input_example, output)
    if input_example is not None:
        mlmodel["saved_input_example_info"] = _save_example(model_dir, input_example)
    return mlmodel

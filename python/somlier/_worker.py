"""A model server's Python worker: loads one model and predicts batches the C++ front end
sends it, one round trip per batch.

Started as `python -m somlier._worker MODEL_DIR`. It talks over stdin and its original stdout
(anything the model prints goes to stderr instead, so it cannot corrupt the protocol):

  frame     := u32 little-endian length, then that many bytes
  handshake := frame(JSON {"ok": true, "flavor", "feature_names", "n_features", "signature",
                          "pid"} or {"ok": false, "error"})  written once, after loading;
               "signature" is MLmodel's signature.inputs, parsed (the server checks requests
               against it and converts their values to its types)
  request   := frame(JSON {"rows", "segments": [rows per request], "bytes", and either
                           "tensor": {"type", "dtype", "shape": one row's}, "columns"?: names
                        or "frame": [{"name", "type", "bytes", "nulls"}, ...]})
               then "bytes" bytes: a tensor's values, row-major; or each column's values
               followed, when "nulls", by one byte per row (1: missing)
               values: double <f8, float <f4, long <i8, integer <i4, boolean u1, datetime <i8
               nanoseconds (NaT: the smallest int64); string and binary (base64): the column's
               JSON values joined by commas
  response  := frame(JSON {"ok": true, "datatype", "row_shape", "columns"?, "failed":
                           {index: message}})
               frame(the predictions of the segments that did not fail, one JSON value per
                     row, separated by newlines; a record per row when the model answers a
                     DataFrame, whose "columns" the header lists)

A frame becomes a pandas DataFrame with MLflow's dtypes (an optional long/integer/boolean
column with missing values: pandas' nullable Int64/Int32/boolean); a tensor a numpy array of
its dtype and shape [rows, *shape], or a DataFrame with "columns" for a model fitted on one.

When the batch as a whole fails, each request's rows are predicted on their own, so one bad
request fails alone. The worker exits when stdin closes.
"""
import base64
import json
import os
import struct
import sys
import warnings

from . import _flavors, _models

_DATATYPES = {"b": "BOOL", "i": "INT64", "u": "UINT64", "f": "FP64"}
_WIRE = {"double": "<f8", "float": "<f4", "long": "<i8", "integer": "<i4", "boolean": "u1",
         "datetime": "<i8"}


def _read_exactly(n):
    chunks = []
    while n:
        chunk = os.read(0, n)
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _read_frame():
    head = _read_exactly(4)
    if head is None:
        return None
    (size,) = struct.unpack("<I", head)
    return _read_exactly(size) if size else b""


def _write_frames(fd, *payloads):
    data = b"".join(struct.pack("<I", len(p)) + p for p in payloads)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _signature_inputs(mlmodel):
    inputs = (mlmodel.get("signature") or {}).get("inputs")
    if not inputs:
        return None
    try:
        return json.loads(inputs)
    except ValueError:
        raise ValueError("the MLmodel's signature inputs are not valid JSON") from None


class _Model:
    """The loaded model and how to call it on a batch; which flavor loads it and how it is
    called is the flavor table's (_flavors)."""

    def __init__(self, path):
        mlmodel = _models.read_mlmodel(path)
        flavors = mlmodel.get("flavors", {})
        self.signature = _signature_inputs(mlmodel)
        flavor = _flavors.choose(flavors, path)
        self.flavor = flavor.name
        self.model = flavor.load(path)
        serving = flavor.serving(self.model, mlmodel)
        self._predict = serving["predict"]
        self._frame = serving["frame"]
        self._takes_frames = serving.get("takes_frames", True)
        self.feature_names = serving["feature_names"]
        self.n_features = serving["n_features"]
        if self.feature_names and self.n_features is None:
            self.n_features = len(self.feature_names)

    def predict(self, batch, columns):
        import numpy as np
        import pandas as pd
        if isinstance(batch, pd.DataFrame):
            out = self._predict(batch if self._takes_frames else batch.to_numpy())
        elif self._frame and batch.ndim == 2:
            out = self._predict(pd.DataFrame(batch, columns=self.feature_names or columns or None))
        else:
            out = self._predict(batch)
        if isinstance(out, pd.DataFrame):
            return out
        if hasattr(out, "to_numpy"):
            out = out.to_numpy()
        return np.asarray(out)


def _decode_batch(request, payload):
    """The batch a request header announces, from its payload: a DataFrame or an array."""
    import numpy as np
    rows = request["rows"]
    if "tensor" in request:
        spec = request["tensor"]
        values = np.frombuffer(payload, dtype=_WIRE[spec["type"]])
        values = values.reshape([rows] + spec["shape"])
        dtype = np.dtype(spec["dtype"]) if spec.get("dtype") else values.dtype
        return values if values.dtype == dtype else values.astype(dtype)
    import pandas as pd
    columns = {}
    offset = 0
    for column in request["frame"]:
        kind = column["type"]
        raw = payload[offset:offset + column["bytes"]]
        offset += column["bytes"]
        if kind in ("string", "binary"):
            values = json.loads(b"[" + raw + b"]")
            if kind == "binary":
                values = [None if v is None else base64.b64decode(v, validate=True) for v in values]
            data = np.empty(len(values), dtype=object)
            data[:] = values
        else:
            data = np.frombuffer(raw, dtype=_WIRE[kind])
            if kind == "boolean":
                data = data.astype(bool)
            elif kind == "datetime":
                data = data.view("datetime64[ns]")
            if column["nulls"]:
                mask = np.frombuffer(payload[offset:offset + rows], dtype="u1").astype(bool)
                offset += rows
                if kind == "boolean":
                    data = pd.arrays.BooleanArray(data, mask)
                else:
                    data = pd.arrays.IntegerArray(data.copy(), mask)
        columns[column["name"]] = data
    return pd.DataFrame(columns, index=pd.RangeIndex(rows))


def _rows(batch, start, count):
    return batch.iloc[start:start + count] if hasattr(batch, "iloc") else batch[start:start + count]


def _plain(value):
    """What json.dumps cannot take itself: numpy scalars, dates, decimals."""
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _rows_text(out):
    """One JSON value per row (a record for a DataFrame); NaN and infinities become null
    (JSON has no such numbers)."""
    import numpy as np
    if hasattr(out, "to_dict"):
        finite = out.notna() & ~out.isin([np.inf, -np.inf])
        records = out.astype(object).where(finite, None).to_dict(orient="records")
        return "\n".join(json.dumps(r, default=_plain, allow_nan=False) for r in records)
    if out.dtype.kind == "f" and not np.isfinite(out).all():
        out = np.where(np.isfinite(out), out, None).astype(object)
    values = out.tolist()
    if out.ndim == 1 and out.dtype.kind in "biuf":
        return json.dumps(values)[1:-1].replace(", ", "\n")
    return "\n".join(json.dumps(v, default=_plain, allow_nan=False) for v in values)


def _describe(out):
    if hasattr(out, "to_dict"):
        return "BYTES"
    kind = out.dtype.kind
    if kind == "f" and out.dtype.itemsize == 4:
        return "FP32"
    return _DATATYPES.get(kind, "BYTES")


def _error_text(error):
    text = f"{type(error).__name__}: {error}"
    return text if len(text) < 2000 else text[:2000] + "..."


def _serve(model, out_fd):
    while True:
        header = _read_frame()
        if header is None:
            return
        request = json.loads(header)
        rows = request["rows"]
        payload = _read_exactly(request["bytes"]) if request["bytes"] else b""
        if payload is None:
            return
        columns = request.get("columns")
        segments = request["segments"]
        try:
            batch = _decode_batch(request, payload)
        except Exception as error:  # noqa: BLE001 - the server checked it; fail, do not die
            failed = {str(i): _error_text(error) for i in range(len(segments))}
            _write_frames(out_fd, json.dumps({"ok": True, "failed": failed, "datatype": "FP64",
                                              "row_shape": []}).encode(), b"")
            continue
        failed = {}
        try:
            out = model.predict(batch, columns)
            if len(out) != rows:
                raise ValueError(f"the model returned {len(out)} predictions for {rows} rows")
            parts = [(out, _rows_text(out))]
        except Exception as error:  # noqa: BLE001 - reported to the request that caused it
            parts = []
            if len(segments) == 1:
                failed["0"] = _error_text(error)
            else:
                start = 0
                for index, count in enumerate(segments):
                    try:
                        part = model.predict(_rows(batch, start, count), columns)
                        if len(part) != count:
                            raise ValueError(f"the model returned {len(part)} predictions "
                                             f"for {count} rows")
                        parts.append((part, _rows_text(part)))
                    except Exception as segment_error:  # noqa: BLE001
                        failed[str(index)] = _error_text(segment_error)
                    start += count
        body = "\n".join(text for part, text in parts if len(part))
        first = parts[0][0] if parts else None
        answer = {"ok": True, "failed": failed,
                  "datatype": _describe(first) if first is not None else "FP64",
                  "row_shape": list(first.shape[1:]) if first is not None and
                  not hasattr(first, "to_dict") else []}
        if first is not None and hasattr(first, "to_dict"):
            answer["columns"] = [str(c) for c in first.columns]
        _write_frames(out_fd, json.dumps(answer).encode(), body.encode())


def _die_with_parent():
    """Linux: SIGTERM when the server that started this worker dies, even by SIGKILL (it
    would otherwise only notice between batches, or after loading a large model)."""
    try:
        import ctypes
        import signal
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGTERM), 0, 0, 0)  # PR_SET_PDEATHSIG
        if os.getppid() == 1:  # the parent is already gone
            os.kill(os.getpid(), signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def main(argv):
    _die_with_parent()
    out_fd = os.dup(1)
    os.dup2(2, 1)  # stray prints go to stderr
    sys.stdout = sys.stderr
    warnings.filterwarnings("ignore", message="X does not have valid feature names")
    if len(argv) != 1:
        _write_frames(out_fd, json.dumps({"ok": False, "error": "usage: python -m "
                                          "somlier._worker MODEL_DIR"}).encode())
        return 2
    try:
        model = _Model(argv[0])
        # Every batch becomes numpy arrays or a DataFrame: imported now, while the model loads,
        # not in the first request's time.
        import numpy  # noqa: F401
        import pandas  # noqa: F401
    except Exception as error:  # noqa: BLE001 - the server reports it
        _write_frames(out_fd, json.dumps({"ok": False, "error": _error_text(error)}).encode())
        return 1
    _write_frames(out_fd, json.dumps({
        "ok": True, "flavor": model.flavor, "feature_names": model.feature_names or [],
        "signature": model.signature,
        "n_features": model.n_features if model.n_features is not None else -1,
        "pid": os.getpid()}).encode())
    _serve(model, out_fd)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

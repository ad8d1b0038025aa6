"""A model server's Python worker: loads one model and predicts batches the C++ front end
sends it, one round trip per batch.

Started as `python -m somlier._worker MODEL_DIR`. It talks over stdin and its original stdout
(anything the model prints goes to stderr instead, so it cannot corrupt the protocol):

  frame     := u32 little-endian length, then that many bytes
  handshake := frame(JSON {"ok": true, "flavor", "feature_names", "n_features", "pid"} or
                         {"ok": false, "error"})            written once, after loading
  request   := frame(JSON {"rows", "cols", "segments": [rows per request], "columns"?})
               then rows * cols little-endian float64 values, row-major
  response  := frame(JSON {"ok": true, "datatype", "row_shape", "failed": {index: message}})
               frame(the predictions of the segments that did not fail, one JSON value per
                     row, separated by newlines)

When the batch as a whole fails, each request's rows are predicted on their own, so one bad
request fails alone. The worker exits when stdin closes.
"""
import json
import os
import struct
import sys
import warnings

from . import _flavors, _models

_DATATYPES = {"b": "BOOL", "i": "INT64", "u": "UINT64", "f": "FP64"}


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


def _signature_columns(mlmodel):
    inputs = (mlmodel.get("signature") or {}).get("inputs")
    if not inputs:
        return None
    try:
        spec = json.loads(inputs)
    except ValueError:
        return None
    names = [c.get("name") for c in spec if isinstance(c, dict)]
    if names and all(isinstance(n, str) for n in names) and spec[0].get("type") != "tensor":
        return names
    return None


class _Model:
    """The loaded model and how to call it on a float64 matrix; which flavor loads it and how
    it is called is the flavor table's (_flavors)."""

    def __init__(self, path):
        mlmodel = _models.read_mlmodel(path)
        flavors = mlmodel.get("flavors", {})
        self.feature_names = _signature_columns(mlmodel)
        flavor = _flavors.choose(flavors, path)
        self.flavor = flavor.name
        self.model = flavor.load(path)
        serving = flavor.serving(self.model, mlmodel)
        self._predict = serving["predict"]
        self._frame = serving["frame"]
        if serving["feature_names"] is not None:
            self.feature_names = serving["feature_names"]
        self.n_features = serving["n_features"]
        if self.feature_names and self.n_features is None:
            self.n_features = len(self.feature_names)

    def predict(self, matrix, columns):
        import numpy as np
        if self._frame:
            import pandas as pd
            names = self.feature_names or columns or None
            out = self._predict(pd.DataFrame(matrix, columns=names))
        else:
            out = self._predict(matrix)
        if hasattr(out, "to_numpy"):
            out = out.to_numpy()
        return np.asarray(out)


def _plain(value):
    """What json.dumps cannot take itself: numpy scalars, dates, decimals."""
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _rows_text(out):
    """One JSON value per row; NaN and infinities become null (JSON has no such numbers)."""
    import numpy as np
    if out.dtype.kind == "f" and not np.isfinite(out).all():
        out = np.where(np.isfinite(out), out, None).astype(object)
    values = out.tolist()
    if out.ndim == 1 and out.dtype.kind in "biuf":
        return json.dumps(values)[1:-1].replace(", ", "\n")
    return "\n".join(json.dumps(v, default=_plain, allow_nan=False) for v in values)


def _describe(out):
    kind = out.dtype.kind
    if kind == "f" and out.dtype.itemsize == 4:
        return "FP32"
    return _DATATYPES.get(kind, "BYTES")


def _error_text(error):
    text = f"{type(error).__name__}: {error}"
    return text if len(text) < 2000 else text[:2000] + "..."


def _serve(model, out_fd):
    import numpy as np
    while True:
        header = _read_frame()
        if header is None:
            return
        request = json.loads(header)
        rows, cols = request["rows"], request["cols"]
        payload = _read_exactly(rows * cols * 8) if rows * cols else b""
        if payload is None:
            return
        matrix = np.frombuffer(payload, dtype="<f8").reshape(rows, cols)
        columns = request.get("columns")
        segments = request["segments"]
        failed = {}
        try:
            out = model.predict(matrix, columns)
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
                        part = model.predict(matrix[start:start + count], columns)
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
                  "row_shape": list(first.shape[1:]) if first is not None else []}
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
    except Exception as error:  # noqa: BLE001 - the server reports it
        _write_frames(out_fd, json.dumps({"ok": False, "error": _error_text(error)}).encode())
        return 1
    _write_frames(out_fd, json.dumps({
        "ok": True, "flavor": model.flavor, "feature_names": model.feature_names or [],
        "n_features": model.n_features if model.n_features is not None else -1,
        "pid": os.getpid()}).encode())
    _serve(model, out_fd)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

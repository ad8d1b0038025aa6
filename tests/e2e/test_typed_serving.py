"""serve-model with typed inputs, end to end against the built binary: models whose MLmodel
signature has string, long, boolean, double and datetime columns, or a tensor; every MLflow
input form and the KServe V2 protocol; type errors as 400s naming the column; class labels,
probability lists and records as outputs."""
import base64
import pathlib
import sys
import tempfile
import unittest

from somlier_e2e import (SOURCE_DIR, HttpError, ModelServer, SomlierTestCase, post,
                         python_function_model, request_json)

sys.path.insert(0, str(SOURCE_DIR / "python"))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import yaml  # noqa: E402

import somlier.pytorch  # noqa: E402
import somlier.sklearn  # noqa: E402

MODELS = pathlib.Path(tempfile.mkdtemp(prefix="somlier-typed-models-"))
RNG = np.random.default_rng(7)


def churn_frame(n):
    plan = RNG.choice(["basic", "pro", "enterprise"], n)
    region = RNG.choice(["north", "south"], n)
    tenure = RNG.integers(1, 60, n)
    support = RNG.random(n) < 0.5
    spend = np.round(RNG.normal(50, 15, n), 2)
    return pd.DataFrame({"plan": plan, "region": region, "tenure_months": tenure,
                         "has_support": support, "monthly_spend": spend})


CHURN = churn_frame(300)
CHURN_LABELS = np.where((CHURN.plan == "basic") & ~CHURN.has_support | (CHURN.tenure_months < 6),
                        "churn", "stay")

CNN_SOURCE = """
import torch


class DigitsCnn(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 4, 3, padding=1)
        self.head = torch.nn.Linear(4 * 4 * 4, 10)

    def forward(self, x):
        x = torch.nn.functional.max_pool2d(torch.relu(self.conv(x)), 2)
        return self.head(x.flatten(1))
"""


def setUpModule():
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler
    from sklearn.tree import DecisionTreeClassifier

    churn = Pipeline([
        ("columns", ColumnTransformer([
            ("categories", OneHotEncoder(handle_unknown="ignore"), ["plan", "region"]),
            ("numbers", StandardScaler(), ["tenure_months", "monthly_spend"]),
            ("flags", "passthrough", ["has_support"])])),
        ("classify", LogisticRegression(max_iter=1000))]).fit(CHURN, CHURN_LABELS)
    somlier.sklearn.save_model(churn, str(MODELS / "churn"), input_example=CHURN.head(5))
    somlier.sklearn.save_model(churn, str(MODELS / "churn-proba"), input_example=CHURN.head(5),
                               pyfunc_predict_fn="predict_proba")

    counts = pd.DataFrame({"count": RNG.integers(0, 10, 200).astype(np.int64),
                           "flag": RNG.random(200) < 0.5})
    target = (counts["count"] > 4).astype(int) * 2 + counts["flag"].astype(int)
    tree = DecisionTreeClassifier(random_state=0).fit(counts, target)
    somlier.sklearn.save_model(tree, str(MODELS / "int-bool"), input_example=counts.head(3))

    import torch
    from sklearn.datasets import load_digits
    code = MODELS / "digits_cnn.py"
    code.write_text(CNN_SOURCE)
    sys.path.insert(0, str(MODELS))
    import digits_cnn
    torch.manual_seed(0)
    x, y = load_digits(return_X_y=True)
    images = torch.tensor(x / 16.0, dtype=torch.float32).reshape(-1, 1, 8, 8)
    labels = torch.tensor(y)
    cnn = digits_cnn.DigitsCnn()
    optimizer = torch.optim.Adam(cnn.parameters(), lr=0.01)
    for _ in range(3):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(cnn(images), labels).backward()
        optimizer.step()
    cnn.eval()
    somlier.pytorch.save_model(cnn, str(MODELS / "cnn"), code_paths=[str(code)],
                               input_example=images[:2].numpy())


def tearDownModule():
    import shutil
    shutil.rmtree(MODELS, ignore_errors=True)


def signature(model):
    import json
    mlmodel = yaml.safe_load((MODELS / model / "MLmodel").read_text())
    return json.loads(mlmodel["signature"]["inputs"])


def model_url(server):
    """The V2 URL of the one model a server serves (named after its directory)."""
    return server.url + "/v2/models/" + pathlib.Path(server.proc.args[2]).name


def infer_url(server):
    return model_url(server) + "/infer"


def v2_columns(frame):
    """One V2 input per column, with the datatype of its type."""
    inputs = []
    for name, column in frame.items():
        kind = column.dtype.kind
        datatype = {"b": "BOOL", "i": "INT64", "f": "FP64"}.get(kind, "BYTES")
        inputs.append({"name": name, "shape": [len(column)], "datatype": datatype,
                       "data": column.tolist()})
    return {"inputs": inputs}


class TypedServingTest(SomlierTestCase):
    def test_a_categorical_pipeline_answers_its_own_class_labels_in_every_form(self):
        self.assertEqual({c["name"]: c["type"] for c in signature("churn")},
                         {"plan": "string", "region": "string", "tenure_months": "long",
                          "has_support": "boolean", "monthly_spend": "double"})
        server = ModelServer(self, MODELS / "churn")
        rows = CHURN.iloc[:40]
        model = somlier.sklearn.load_model(str(MODELS / "churn"))
        expected = model.predict(rows).tolist()
        self.assertEqual(set(expected), {"churn", "stay"})
        shuffled = rows[["monthly_spend", "plan", "has_support", "tenure_months", "region"]]
        forms = {
            "dataframe_split": {"dataframe_split": {"columns": list(shuffled.columns),
                                                    "data": shuffled.values.tolist()}},
            "dataframe_records": {"dataframe_records": shuffled.to_dict(orient="records")},
            "instances": {"instances": rows.to_dict(orient="records")},
            "inputs columns": {"inputs": {c: rows[c].tolist() for c in rows.columns}},
            "positional rows": {"instances": rows.values.tolist()},
        }
        for form, body in forms.items():
            self.assertEqual(post(server.url + "/invocations", _plain(body)),
                             {"predictions": expected}, form)
        csv = rows.to_csv(index=False)
        self.assertEqual(post(server.url + "/invocations", csv, "text/csv"),
                         {"predictions": expected})
        answer = post(infer_url(server), _plain(v2_columns(rows)))
        self.assertEqual(answer["outputs"][0]["datatype"], "BYTES")
        self.assertEqual(answer["outputs"][0]["shape"], [40])
        self.assertEqual(answer["outputs"][0]["data"], expected)
        metadata = request_json("GET", model_url(server))
        self.assertEqual([(i["name"], i["datatype"]) for i in metadata["inputs"]],
                         [("plan", "BYTES"), ("region", "BYTES"), ("tenure_months", "INT64"),
                          ("has_support", "BOOL"), ("monthly_spend", "FP64")])
        # A category the encoder never saw is ignored, as the pipeline was built to do.
        unseen = dict(rows.iloc[0].to_dict(), plan="platinum")
        self.assertIn(post(server.url + "/invocations", _plain({"dataframe_records": [unseen]}))
                      ["predictions"][0], ("churn", "stay"))

    def test_type_errors_are_400s_naming_row_column_type_and_value(self):
        server = ModelServer(self, MODELS / "churn")
        good = _plain(CHURN.iloc[0].to_dict())
        cases = [
            (dict(good, tenure_months="twelve"),
             "row 0, column 'tenure_months': \"twelve\" is not a long"),
            (dict(good, tenure_months=3.5),
             "row 0, column 'tenure_months': 3.5 is not a long (expected a whole number)"),
            (dict(good, has_support=1),
             "row 0, column 'has_support': 1 is not a boolean"),
            (dict(good, plan=3), "row 0, column 'plan': 3 is not a string"),
            (dict(good, tenure_months=None),
             "row 0, column 'tenure_months': a value is missing"),
            ({k: v for k, v in good.items() if k != "region"},
             "the input has no column 'region' (string)"),
        ]
        for record, message in cases:
            with self.assertRaises(HttpError, msg=message) as e:
                post(server.url + "/invocations", {"dataframe_records": [record]})
            self.assertEqual(e.exception.status, 400, e.exception.body)
            self.assertEqual(e.exception.json["error_code"], "BAD_REQUEST")
            self.assertIn(message, e.exception.json["message"])
        with self.assertRaises(HttpError) as e:
            body = v2_columns(CHURN.iloc[:2])
            body["inputs"][2]["datatype"] = "BYTES"
            body["inputs"][2]["data"] = ["1", "2"]
            post(infer_url(server), _plain(body))
        self.assertEqual(e.exception.status, 400)
        self.assertEqual(e.exception.json["error"], "input 'tenure_months' has datatype BYTES, "
                         "but column 'tenure_months' is long: send it as INT64")
        # The worker is the same one after all of that: bad input never reaches it.
        pids = server.workers()
        self.assertEqual(len(post(server.url + "/invocations",
                                  {"dataframe_records": [good]})["predictions"]), 1)
        self.assertEqual(server.workers(), pids)
        self.assertNotIn("restarting", server.output())

    def test_predict_proba_answers_a_list_per_row(self):
        server = ModelServer(self, MODELS / "churn-proba")
        rows = CHURN.iloc[:5]
        expected = somlier.sklearn.load_model(str(MODELS / "churn")).predict_proba(rows)
        answer = post(server.url + "/invocations",
                      _plain({"dataframe_records": rows.to_dict(orient="records")}))
        np.testing.assert_allclose(answer["predictions"], expected, rtol=1e-9)
        v2 = post(infer_url(server), _plain(v2_columns(rows)))
        self.assertEqual(v2["outputs"][0]["shape"], [5, 2])
        self.assertEqual(v2["outputs"][0]["datatype"], "FP64")
        np.testing.assert_allclose(v2["outputs"][0]["data"], expected.ravel(), rtol=1e-9)

    def test_integer_and_boolean_features(self):
        self.assertEqual({c["name"]: c["type"] for c in signature("int-bool")},
                         {"count": "long", "flag": "boolean"})
        server = ModelServer(self, MODELS / "int-bool")
        frame = pd.DataFrame({"count": [0, 3, 5, 9], "flag": [True, False, True, False]})
        expected = somlier.sklearn.load_model(str(MODELS / "int-bool")).predict(frame).tolist()
        self.assertEqual(sorted(set(expected)), [0, 1, 2, 3])
        for body in ({"dataframe_split": {"columns": ["flag", "count"],
                                          "data": [[True, 0], [False, 3], [True, 5],
                                                   [False, 9]]}},
                     {"inputs": {"count": [0, 3.0, 5, 9], "flag": [True, False, True, False]}}):
            self.assertEqual(post(server.url + "/invocations", body), {"predictions": expected})
        self.assertEqual(post(server.url + "/invocations", "count,flag\n0,True\n3,false\n"
                              "5,TRUE\n9,False\n", "text/csv"), {"predictions": expected})
        v2 = post(infer_url(server), _plain(v2_columns(frame)))
        self.assertEqual(v2["outputs"][0], {"name": "predict", "datatype": "INT64", "shape": [4],
                                            "data": expected})

    def test_a_cnn_over_image_tensors_in_every_form(self):
        self.assertEqual(signature("cnn"), [{"type": "tensor", "tensor-spec": {
            "dtype": "float32", "shape": [-1, 1, 8, 8]}}])
        from sklearn.datasets import load_digits
        import torch
        x, _ = load_digits(return_X_y=True)
        images = (x[:6] / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
        model = somlier.pytorch.load_model(str(MODELS / "cnn"))
        with torch.no_grad():
            expected = model(torch.from_numpy(images)).numpy()
        server = ModelServer(self, MODELS / "cnn")
        flat = images.reshape(6, 64)
        forms = {
            "instances nested": {"instances": images.tolist()},
            "inputs nested": {"inputs": images.tolist()},
            "instances flat": {"instances": flat.tolist()},
            "dataframe_split flat": {"dataframe_split": {"data": flat.tolist()}},
        }
        for form, body in forms.items():
            answer = post(server.url + "/invocations", body)
            np.testing.assert_allclose(answer["predictions"], expected, rtol=1e-5, atol=1e-5,
                                       err_msg=form)
        csv = ",".join(f"p{i}" for i in range(64)) + "\n" + "\n".join(
            ",".join(repr(float(v)) for v in row) for row in flat) + "\n"
        np.testing.assert_allclose(post(server.url + "/invocations", csv, "text/csv")
                                   ["predictions"], expected, rtol=1e-5, atol=1e-5)
        for data in (images.ravel().tolist(), images.tolist()):
            v2 = post(infer_url(server), {"inputs": [
                {"name": "images", "shape": [6, 1, 8, 8], "datatype": "FP32", "data": data}]})
            self.assertEqual(v2["outputs"][0]["shape"], [6, 10])
            np.testing.assert_allclose(np.array(v2["outputs"][0]["data"]).reshape(6, 10),
                                       expected, rtol=1e-5, atol=1e-5)
        metadata = request_json("GET", model_url(server))
        self.assertEqual(metadata["inputs"], [{"name": "input-0", "datatype": "FP32",
                                               "shape": [-1, 1, 8, 8]}])
        with self.assertRaises(HttpError) as e:
            post(infer_url(server), {"inputs": [
                {"name": "images", "shape": [1, 63], "datatype": "FP32", "data": [0.0] * 63}]})
        self.assertEqual(e.exception.status, 400)
        self.assertIn("row 0 has shape [63] (63 values), which does not fit the model's input "
                      "tensor float32 [-1, 1, 8, 8]", e.exception.json["error"])
        with self.assertRaises(HttpError) as e:
            post(server.url + "/invocations", {"instances": [[[[0.0] * 8] * 7]]})
        self.assertIn("does not fit", e.exception.json["message"])

    def test_records_datetimes_optional_and_binary_columns(self):
        model = python_function_model(self.tmp / "records", "describe_rows", """
            return pd.DataFrame({
                'day': frame['when'].dt.strftime('%Y-%m-%d %H:%M'),
                'seats': frame['seats'].astype('float').fillna(-1),
                'seats_dtype': [str(frame['seats'].dtype)] * len(frame),
                'size': frame['blob'].map(len),
                'first': frame['blob'].map(lambda b: b[0]),
            })""", [{"name": "when", "type": "datetime"},
                    {"name": "seats", "type": "integer", "required": False},
                    {"name": "blob", "type": "binary"}])
        server = ModelServer(self, model)
        blob = base64.b64encode(b"\x07abc").decode()
        answer = post(server.url + "/invocations", {"dataframe_records": [
            {"when": "2024-05-01T12:30:00+09:00", "seats": 4, "blob": blob},
            {"when": "2024-05-02", "seats": None, "blob": blob}]})
        self.assertEqual(answer, {"predictions": [
            {"day": "2024-05-01 03:30", "seats": 4.0, "seats_dtype": "Int32", "size": 4,
             "first": 7},
            {"day": "2024-05-02 00:00", "seats": -1.0, "seats_dtype": "Int32", "size": 4,
             "first": 7}]})
        v2 = post(infer_url(server), {"inputs": [
            {"name": "when", "shape": [1], "datatype": "BYTES", "data": ["2024-05-01"]},
            {"name": "blob", "shape": [1], "datatype": "BYTES", "data": [blob]}]})
        self.assertEqual([(o["name"], o["datatype"], o["data"]) for o in v2["outputs"]], [
            ("day", "BYTES", ["2024-05-01 00:00"]), ("seats", "FP64", [-1.0]),
            ("seats_dtype", "BYTES", ["Int32"]), ("size", "INT64", [4]),
            ("first", "INT64", [7])])
        with self.assertRaises(HttpError) as e:
            post(server.url + "/invocations", {"dataframe_records": [
                {"when": "yesterday", "blob": blob}]})
        self.assertIn("row 0, column 'when': \"yesterday\" is not a datetime",
                      e.exception.json["message"])


def _plain(value):
    """`value` with numpy scalars turned into Python ones, for json.dumps."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item"):
        return value.item()
    return value


if __name__ == "__main__":
    unittest.main()

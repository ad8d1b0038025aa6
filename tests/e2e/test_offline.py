"""`somlier offline predict` end to end against the built binary: a registered numeric model
(LogisticRegression on four features) and the categorical churn pipeline (a typed signature)
over a day's rows of a feature table — on SQLite (the default warehouse and dataset files
beside it) and on a real PostgreSQL — selecting the rows of a KST and a UTC date and of a
window, predictions equal to the models' own, an idempotent re-run, a run killed halfway that
leaves the previous rows intact, POST /offline/predict with configured warehouses only, and
refused input (SQL injection in names, bad dates) that changes nothing."""
import ast
import datetime
import json
import os
import pathlib
import pickle
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import types
import unittest
import urllib.parse

from somlier_e2e import (PYTHON, SOMLIER_BIN, SOURCE_DIR, HttpError, ServerProcess,
                         SomlierTestCase, new_postgres_database, python_function_model,
                         request_json)

sys.path.insert(0, str(SOURCE_DIR / "python"))

import jinja2  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from fake_bigquery import FakeBigQuery  # noqa: E402
from test_batch import GITHUB_TOKEN, CmdlineWatch, FakeGitHub, call_of, keywords  # noqa: E402

MODELS = """
import pickle, sys
import numpy as np, pandas as pd
import somlier, somlier.sklearn
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

rng = np.random.default_rng(3)
X = pd.DataFrame(rng.normal(size=(400, 4)), columns=["f0", "f1", "f2", "f3"])
numeric = LogisticRegression().fit(X, (X.f0 + 0.5 * X.f1 - X.f3 > 0).astype(int))
churn_x = pd.DataFrame({"plan": rng.choice(["basic", "pro", "enterprise"], 300),
                        "region": rng.choice(["north", "south"], 300),
                        "tenure_months": rng.integers(1, 60, 300),
                        "has_support": rng.random(300) < 0.5,
                        "monthly_spend": np.round(rng.normal(50, 15, 300), 2)})
labels = np.where((churn_x.plan == "basic") & ~churn_x.has_support | (churn_x.tenure_months < 6),
                  "churn", "stay")
churn = Pipeline([
    ("columns", ColumnTransformer([
        ("categories", OneHotEncoder(handle_unknown="ignore"), ["plan", "region"]),
        ("numbers", StandardScaler(), ["tenure_months", "monthly_spend"]),
        ("flags", "passthrough", ["has_support"])])),
    ("classify", LogisticRegression(max_iter=1000))]).fit(churn_x, labels)
for _ in range(2):  # versions 1 and 2 (the alias "live" names 2)
    with somlier.start_run():
        somlier.sklearn.log_model(numeric, "model", registered_model_name="numeric")
with somlier.start_run():
    somlier.sklearn.log_model(churn, "model", registered_model_name="churn",
                              input_example=churn_x.head(5))
for directory, name in ((sys.argv[1], "slow"), (sys.argv[2], "clash")):
    with somlier.start_run() as run:
        somlier.log_artifacts(directory, "model")
        somlier.register_model(f"runs:/{run.run_id}/model", name)
with open(sys.argv[3], "wb") as f:
    pickle.dump((numeric, churn), f)
"""

RNG = np.random.default_rng(11)
DAYS = {"2026-11-30": 40, "2026-12-01": 50, "2026-12-02": 60}


def numeric_rows():
    rows, i = [], 0
    for day, n in DAYS.items():
        for _ in range(n):
            rows.append((i, *map(float, RNG.normal(size=4)), day))
            i += 1
    return rows


def churn_rows(n=120):
    return [(i, str(RNG.choice(["basic", "pro", "enterprise"])), str(RNG.choice(["north", "south"])),
             int(RNG.integers(1, 60)), int(RNG.random() < 0.5), round(float(RNG.normal(50, 15)), 2),
             "2026-12-01") for i in range(n)]


class Shared:
    """What every test of the module shares: one SOMLIER_HOME whose registry holds the models
    (trained and registered once), its server, and the feature tables."""


def setUpModule():
    cls = Shared
    cls.shared = tempfile.mkdtemp(prefix="somlier-offline-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOMLIER_")
           or k in ("SOMLIER_BIN", "SOMLIER_SOURCE_DIR")}
    env.update(SOMLIER_HOME=os.path.join(cls.shared, "home"), SOMLIER_PYTHON=PYTHON)
    cls.class_env = env
    cls.server = ServerProcess(env)
    slow = python_function_model(os.path.join(cls.shared, "slow"), "slow_model", """
        import time
        time.sleep(0.3)
        return pd.Series([0.5] * len(frame))
    """)
    # Answers records with a column named like one the predictions' table has.
    clash = python_function_model(os.path.join(cls.shared, "clash"), "clash_model", """
        return pd.DataFrame({"score": [1.0] * len(frame), "Model_Name": ["x"] * len(frame)})
    """)
    package = subprocess.run([SOMLIER_BIN, "python-path"], env=env, check=True,
                             capture_output=True, text=True).stdout.strip()
    script = os.path.join(cls.shared, "models.py")
    with open(script, "w") as f:
        f.write(MODELS)
    pickled = os.path.join(cls.shared, "models.pickle")
    subprocess.run([PYTHON, script, str(slow), str(clash), pickled], check=True, timeout=300,
                   env=dict(env, PYTHONPATH=package, MLFLOW_TRACKING_URI=cls.server.url))
    for name, alias, version in (("churn", "champion", "1"), ("numeric", "live", "2")):
        request_json("POST", cls.server.url + "/api/2.0/mlflow/registered-models/alias",
                     {"name": name, "alias": alias, "version": version})
    with open(pickled, "rb") as f:
        cls.numeric, cls.churn = pickle.load(f)
    cls.features = numeric_rows()
    warehouse = os.path.join(cls.shared, "home", "warehouse.db")
    os.makedirs(os.path.join(cls.shared, "home", "warehouse"))
    with sqlite3.connect(os.path.join(cls.shared, "home", "warehouse", "features.db")) as db:
        db.execute("CREATE TABLE daily (id INTEGER, f0 REAL, f1 REAL, f2 REAL, f3 REAL, "
                   "load_date TEXT)")
        db.executemany("INSERT INTO daily VALUES (?, ?, ?, ?, ?, ?)", cls.features)
    cls.churn_features = churn_rows()
    with sqlite3.connect(warehouse) as db:
        db.execute("CREATE TABLE churn_features (customer INTEGER, plan TEXT, region TEXT, "
                   "tenure_months INTEGER, has_support BOOLEAN, monthly_spend REAL, "
                   "load_date TEXT)")
        db.executemany("INSERT INTO churn_features VALUES (?, ?, ?, ?, ?, ?, ?)",
                       cls.churn_features)


def tearDownModule():
    Shared.server.stop()
    shutil.rmtree(Shared.shared, ignore_errors=True)


class SharedHomeTest(SomlierTestCase):
    def setUp(self):
        super().setUp()
        self.env = dict(Shared.class_env)
        self.home = os.path.join(Shared.shared, "home")
        self.server = Shared.server
        self.numeric, self.churn = Shared.numeric, Shared.churn
        self.features, self.churn_features = Shared.features, Shared.churn_features

    def predict(self, *args, check=0, timeout=120):
        result = self.somlier("offline", "predict", *args, timeout=timeout)
        if check is not None:
            self.assertEqual(result.returncode, check, f"stdout:\n{result.stdout}\n"
                                                       f"stderr:\n{result.stderr}")
        return result

    def scores(self, file, table, date=None, order="id"):
        with sqlite3.connect(os.path.join(self.home, file if file == "warehouse.db"
                                          else os.path.join("warehouse", file))) as db:
            db.row_factory = sqlite3.Row
            sql = f'SELECT * FROM "{table}"'
            rows = db.execute(sql + (" WHERE inference_date = ?" if date else "") + f" ORDER BY {order}",
                              (date,) if date else ()).fetchall()
        return [dict(r) for r in rows]

    def expected_numeric(self, day):
        rows = [r for r in self.features if r[5] == day]
        frame = pd.DataFrame([r[1:5] for r in rows], columns=["f0", "f1", "f2", "f3"])
        return [r[0] for r in rows], list(self.numeric.predict(frame))


class OfflinePredictTest(SharedHomeTest):

    def test_the_rows_of_a_kst_and_a_utc_date_predicted_as_the_model_does(self):
        common = ["--dataset", "features.daily", "--load_column", "load_date",
                  "--destination", "scores.daily", "--output", "json"]
        # 18:00 UTC on the 30th is 03:00 on the 1st in Seoul.
        kst = json.loads(self.predict("numeric/1", *common, "--date",
                                      "2026-11-30T18:00:00+00:00", "--by_kst").stdout)
        self.assertEqual((kst["rows"], kst["selected_date"], kst["date"]), (50, "2026-12-01",
                                                                               "2026-12-01"))
        self.assertEqual(kst["prediction_columns"], ["prediction"])
        utc = json.loads(self.predict("numeric/1", *common, "--date",
                                      "2026-11-30T18:00:00+00:00").stdout)
        self.assertEqual((utc["rows"], utc["selected_date"]), (40, "2026-11-30"))
        # A window of 2 days reads the day before the date.
        window = json.loads(self.predict("numeric/1", *common, "--date", "2026-12-02",
                                         "--window", "2").stdout)
        self.assertEqual((window["rows"], window["selected_date"]), (50, "2026-12-01"))

        for inference_date, day in (("2026-12-01", "2026-12-01"), ("2026-11-30", "2026-11-30"),
                                    ("2026-12-02", "2026-12-01")):
            rows = self.scores("scores.db", "daily", inference_date)
            ids, predictions = self.expected_numeric(day)
            self.assertEqual([r["id"] for r in rows], ids)
            self.assertEqual([r["prediction"] for r in rows], predictions)
            self.assertEqual({r["load_date"] for r in rows}, {day})
            self.assertEqual({(r["model_name"], r["model_version"]) for r in rows},
                             {("numeric", "1")})
        self.assertEqual(list(rows[0]), ["id", "f0", "f1", "f2", "f3", "load_date", "prediction",
                                         "model_name", "model_version", "inference_date",
                                         "predicted_at"])

        # Running a date again replaces its rows: nothing duplicated, the others untouched.
        before = {d: len(self.scores("scores.db", "daily", d)) for d in DAYS}
        text = self.predict("numeric/1", *common[:-2], "--date", "2026-12-01")
        self.assertIn("predicted 50 rows of features.daily where load_date = 2026-12-01 with "
                      "numeric version 1 into scores.daily", text.stdout)
        self.assertRegex(text.stdout, r"rows/s")
        after = {d: len(self.scores("scores.db", "daily", d)) for d in DAYS}
        self.assertEqual(before, after)
        self.assertEqual(after, {"2026-11-30": 40, "2026-12-01": 50, "2026-12-02": 50})

        # A date without rows writes nothing, and removes what an earlier run wrote for it
        # (its input rows may have been withdrawn since).
        empty = self.predict("numeric/1", *common[:-2], "--date", "2025-01-01")
        self.assertIn("no rows of features.daily where load_date = 2025-01-01", empty.stdout)
        with sqlite3.connect(os.path.join(self.home, "warehouse", "scores.db")) as db:
            db.execute("UPDATE daily SET inference_date = '2025-01-01' WHERE inference_date = "
                       "'2026-11-30'")
        self.predict("numeric/1", *common[:-2], "--date", "2025-01-01")
        self.assertEqual(self.scores("scores.db", "daily", "2025-01-01"), [])
        self.assertEqual(len(self.scores("scores.db", "daily", "2026-12-01")), 50)

        # A model output named like one of the table's columns is refused before any write.
        clash = self.predict("clash/1", "--dataset", "features.daily", "--load_column",
                             "load_date", "--date", "2026-12-01", "--destination",
                             "scores.clash", check=None)
        self.assertNotEqual(clash.returncode, 0)
        self.assertIn("'Model_Name' has the name of another column", clash.stderr)
        with sqlite3.connect(os.path.join(self.home, "warehouse", "scores.db")) as db:
            self.assertEqual(db.execute("SELECT count(*) FROM sqlite_master WHERE name = "
                                        "'clash'").fetchone()[0], 0)

    def test_the_categorical_pipeline_by_alias_on_the_default_warehouse(self):
        answer = json.loads(self.predict(
            "churn@champion", "--dataset", "churn_features", "--load_column", "load_date",
            "--date", "2026-12-01", "--destination", "churn_scores", "--chunk_rows", "5",
            "--output", "json").stdout)
        self.assertEqual(answer["rows"], 120)
        rows = self.scores("warehouse.db", "churn_scores", order="customer")
        frame = pd.DataFrame([r[1:6] for r in self.churn_features],
                             columns=["plan", "region", "tenure_months", "has_support",
                                      "monthly_spend"]).astype({"has_support": bool})
        self.assertEqual([r["customer"] for r in rows], [r[0] for r in self.churn_features])
        self.assertEqual([r["prediction"] for r in rows], list(self.churn.predict(frame)))
        self.assertEqual({r["model_version"] for r in rows}, {"1"})

    def test_a_pod_downloads_the_model_from_the_server_and_records_the_version_it_resolved(self):
        # A DAG's pod: SOMLIER_SERVER set, no registry of its own, the warehouse by URL.
        pod = dict(self.env, SOMLIER_SERVER=self.server.url, SOMLIER_HOME=str(self.tmp / "pod"))
        warehouse = "sqlite:///" + os.path.join(self.home, "warehouse.db")
        out = self.somlier("offline", "predict", "numeric@live", "--dataset", "features.daily",
                           "--load_column", "load_date", "--date", "2026-12-01",
                           "--destination", "scores.pod", "--warehouse", warehouse,
                           "--output", "json", env=pod, timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        answer = json.loads(out.stdout)
        self.assertEqual((answer["model_name"], answer["model_version"], answer["rows"]),
                         ("numeric", "2", 50))
        rows = self.scores("scores.db", "pod")
        self.assertEqual({(r["model_name"], r["model_version"]) for r in rows}, {("numeric", "2")})
        self.assertEqual([r["prediction"] for r in rows], self.expected_numeric("2026-12-01")[1])
        self.assertEqual(list((self.tmp / "pod").glob("*.db")), [], "the pod's home holds no data")

    def test_a_run_killed_halfway_leaves_the_previous_rows(self):
        common = ["--dataset", "features.daily", "--load_column", "load_date", "--date",
                  "2026-12-02", "--destination", "scores.killed"]
        self.predict("numeric/1", *common)
        before = self.scores("scores.db", "killed")
        self.assertEqual(len(before), 60)
        # The slow model takes 0.3 s a chunk of 5 rows: 12 chunks.
        proc = self.start_somlier("offline", "predict", "slow/1", *common, "--chunk_rows", "5")
        time.sleep(2.5)  # the model loaded, and the first chunks are written
        self.assertIsNone(proc.poll(), proc.stderr.read() if proc.poll() is not None else "")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        self.assertEqual(self.scores("scores.db", "killed"), before)
        # And the same run to its end replaces them.
        self.predict("slow/1", *common, "--chunk_rows", "30")
        after = self.scores("scores.db", "killed")
        self.assertEqual((len(after), {r["model_name"] for r in after},
                          {r["prediction"] for r in after}), (60, {"slow"}, {0.5}))

    def test_bad_input_is_named_and_changes_nothing(self):
        base = {"--dataset": "features.daily", "--load_column": "load_date",
                "--date": "2026-12-01", "--destination": "bad.daily"}
        cases = [
            ({"--dataset": 'features.daily"; DROP TABLE daily; --'}, 1, "--dataset"),
            ({"--dataset": "features.daily WHERE 1=1"}, 1, "--dataset"),
            ({"--load_column": "load_date = load_date OR 1"}, 1, "--load_column"),
            ({"--load_column": 'load_date"--'}, 1, "--load_column"),
            ({"--destination": "bad.daily; DELETE FROM daily"}, 1, "--destination"),
            ({"--date": "2026-12-01' OR '1'='1"}, 1, "--date"),
            ({"--date": "2026-02-30"}, 1, "--date"),
            ({"--destination": "features.daily"}, 1, "is the input table"),
            ({"--dataset": "nowhere.daily"}, 1, "dataset 'nowhere' does not exist"),
            ({"--load_column": "loaded_on"}, 1, "no such column"),
            ({"--warehouse": "mysql://h/db"}, 1, "is not sqlite:///PATH"),
        ]
        for change, code, fragment in cases:
            args = dict(base, **change)
            flat = [x for pair in args.items() for x in pair]
            result = self.predict("numeric/1", *flat, check=None)
            self.assertNotEqual(result.returncode, 0, change)
            self.assertIn(fragment, result.stderr, change)
        for model, fragment in (("numeric/9", "9"), ("nope@x", "nope"), ("numeric", "NAME/VERSION")):
            result = self.predict(model, *[x for p in base.items() for x in p], check=None)
            self.assertNotEqual(result.returncode, 0, model)
            self.assertIn(fragment, result.stderr, model)
        self.assertFalse(os.path.exists(os.path.join(self.home, "warehouse", "bad.db")))
        self.assertFalse(os.path.exists(os.path.join(self.home, "warehouse", "nowhere.db")))
        with sqlite3.connect(os.path.join(self.home, "warehouse", "features.db")) as db:
            self.assertEqual(db.execute("SELECT count(*) FROM daily").fetchone()[0], 150)

    def test_rest_takes_configured_warehouse_names_only(self):
        body = {"model_ref": "numeric/1", "dataset": "features.daily", "load_column": "load_date",
                "date": "2026-12-01", "destination": "rest.daily"}
        answer = request_json("POST", self.server.url + "/offline/predict", body)
        self.assertEqual((answer["rows"], answer["warehouse"]), (50, "default"))
        self.assertEqual(len(self.scores("rest.db", "daily")), 50)
        # A dataset is a file of the warehouse's own directory: never SoMLier's database.
        request_json("POST", self.server.url + "/offline/predict",
                     dict(body, destination="somlier.preds"))
        self.assertTrue(os.path.exists(os.path.join(self.home, "warehouse", "somlier.db")))
        with sqlite3.connect(os.path.join(self.home, "somlier.db")) as store:
            self.assertEqual(store.execute("SELECT count(*) FROM sqlite_master WHERE name = "
                                           "'preds'").fetchone()[0], 0)
        for warehouse, fragment in (("sqlite:////etc/x.db", "not a URL"),
                                    ("postgresql://u:p@127.0.0.1/db", "not a URL"),
                                    ("elsewhere", "SOMLIER_WAREHOUSE_ELSEWHERE")):
            with self.assertRaises(HttpError) as caught:
                request_json("POST", self.server.url + "/offline/predict",
                             dict(body, warehouse=warehouse, destination="rest2.daily"))
            self.assertEqual(caught.exception.status, 422)
            self.assertIn(fragment, caught.exception.body)
        for change in ({"window": 0}, {"destination": "other-project.rest.daily"}):
            with self.assertRaises(HttpError) as caught:
                request_json("POST", self.server.url + "/offline/predict", dict(body, **change))
            self.assertEqual(caught.exception.status, 422, change)
        self.assertFalse(os.path.exists(os.path.join(self.home, "warehouse", "rest2.db")))

    def test_postgresql(self):
        url = new_postgres_database()
        subprocess.run(["psql", url, "-q", "-v", "ON_ERROR_STOP=1", "-c", """
            CREATE SCHEMA features;
            CREATE TABLE features.daily (id BIGINT, f0 DOUBLE PRECISION, f1 DOUBLE PRECISION,
                                         f2 DOUBLE PRECISION, f3 REAL, load_date DATE);
        """], check=True, capture_output=True, timeout=60)
        copy = "\n".join("\t".join(map(str, r)) for r in self.features) + "\n"
        subprocess.run(["psql", url, "-q", "-c", "COPY features.daily FROM STDIN"], input=copy,
                       text=True, check=True, capture_output=True, timeout=60)
        common = ["--dataset", "features.daily", "--load_column", "load_date",
                  "--destination", "public.scores", "--warehouse", url, "--output", "json"]
        for _ in range(2):  # the second run replaces the first's rows
            answer = json.loads(self.predict("numeric/1", *common, "--date",
                                             "2026-11-30T18:00:00+00:00", "--by_kst").stdout)
            self.assertEqual((answer["rows"], answer["selected_date"]), (50, "2026-12-01"))
        self.predict("numeric/1", *common, "--date", "2026-11-30")
        out = subprocess.run(["psql", url, "-At", "-F", ",", "-c",
                              "SELECT inference_date, id, prediction, model_name FROM public.scores "
                              "ORDER BY inference_date, id"],
                             check=True, capture_output=True, text=True, timeout=60).stdout
        rows = [line.split(",") for line in out.split()]
        self.assertEqual(len(rows), 90)
        for day in ("2026-11-30", "2026-12-01"):
            ids, predictions = self.expected_numeric(day)
            got = [r for r in rows if r[0] == day]
            self.assertEqual([int(r[1]) for r in got], ids)
            self.assertEqual([int(r[2]) for r in got], predictions)
        # A TIMESTAMPTZ load column: every row of the day, not only midnight's.
        subprocess.run(["psql", url, "-q", "-v", "ON_ERROR_STOP=1", "-c", """
            CREATE TABLE features.events AS SELECT id, f0, f1, f2, f3,
                load_date + time '10:30' AT TIME ZONE 'UTC' AS load_ts FROM features.daily;
        """], check=True, capture_output=True, timeout=60)
        events = json.loads(self.predict("numeric/1", "--dataset", "features.events",
                                         "--load_column", "load_ts", "--date", "2026-12-02",
                                         "--destination", "public.event_scores", "--warehouse",
                                         url, "--output", "json").stdout)
        self.assertEqual(events["rows"], 60)
        types = subprocess.run(["psql", url, "-At", "-c",
                                "SELECT data_type FROM information_schema.columns WHERE "
                                "table_name = 'scores' AND column_name IN "
                                "('inference_date', 'predicted_at', 'prediction') "
                                "ORDER BY column_name"],
                               check=True, capture_output=True, text=True).stdout.split("\n")
        self.assertEqual(types[:3], ["date", "timestamp with time zone", "bigint"])
        missing = self.predict("numeric/1", "--dataset", "nope.daily", *common[2:], "--date",
                               "2026-12-01", check=None)
        self.assertNotEqual(missing.returncode, 0)
        self.assertIn('"nope"."daily"', missing.stderr)
        password = urllib.parse.urlsplit(url).password
        if password:
            self.assertNotIn(password, missing.stderr)
        # First runs racing to create one destination: every one succeeds, none is lost. They
        # line up behind another transaction creating that table, which then gives up, so all
        # of them go at once (without a lock of their own, all but one failed on pg_type).
        holder = subprocess.Popen(["psql", url, "-q", "-v", "ON_ERROR_STOP=1"],
                                  stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        self.addCleanup(holder.kill)
        holder.stdin.write("BEGIN; CREATE TABLE public.raced (x INT);\n")
        holder.stdin.flush()
        dates = ["2026-11-30", "2026-12-01", "2026-12-01", "2026-11-30"]
        racers = [self.start_somlier("offline", "predict", "numeric/1", *common[:4],
                                     "--destination", "public.raced", "--warehouse", url,
                                     "--date", day) for day in dates]
        waiting = ""
        for _ in range(600):
            waiting = subprocess.run(
                ["psql", url, "-At", "-c", "SELECT count(*) FROM pg_stat_activity WHERE "
                 "wait_event_type = 'Lock' AND datname = current_database()"],
                check=True, capture_output=True, text=True, timeout=60).stdout.strip()
            if waiting == str(len(racers)) or any(r.poll() is not None for r in racers):
                break
            time.sleep(0.1)
        exited = [r.communicate()[1] for r in racers if r.poll() is not None]
        self.assertEqual(waiting, str(len(racers)), f"the racers never queued: {exited}")
        holder.communicate("ROLLBACK;\n", timeout=60)
        for racer in racers:
            out, err = racer.communicate(timeout=120)
            self.assertEqual(racer.returncode, 0, f"stdout:\n{out}\nstderr:\n{err}")
        counted = subprocess.run(["psql", url, "-At", "-F", ",", "-c",
                                  "SELECT inference_date, count(*) FROM public.raced "
                                  "GROUP BY 1 ORDER BY 1"],
                                 check=True, capture_output=True, text=True, timeout=60).stdout
        self.assertEqual(counted.split(), ["2026-11-30,40", "2026-12-01,50"])


class BigQueryTest(SharedHomeTest):
    """bigquery:// against a FAKE of BigQuery's REST API (tests/e2e/fake_bigquery.py): the
    real one cannot run here."""
    PROJECT = "proj-123456"
    TOKEN = "ya29.fake-" + "t" * 40

    def setUp(self):
        super().setUp()
        self.fake, url = FakeBigQuery(token=self.TOKEN, page_cap=15).start()
        self.addCleanup(self.fake.close)
        self.env.update(SOMLIER_BIGQUERY_API_URL=url,
                        GOOGLE_APPLICATION_CREDENTIALS=self.fake.write_service_account_key(
                            self.tmp))
        fields = [("id", "INTEGER"), ("f0", "FLOAT"), ("f1", "FLOAT"), ("f2", "FLOAT"),
                  ("f3", "FLOAT"), ("load_date", "DATE")]
        self.fake.create_table(self.PROJECT, "features", "daily", fields, self.features)
        self.fake.create_dataset(self.PROJECT, "scores")

    def bq_predict(self, *extra, check=0):
        return self.predict("numeric/1", "--dataset", f"{self.PROJECT}.features.daily",
                            "--load_column", "load_date", "--destination",
                            f"{self.PROJECT}.scores.daily", "--warehouse",
                            f"bigquery://{self.PROJECT}", "--chunk_rows", "20", *extra,
                            check=check)

    def test_pages_in_load_jobs_out_and_a_swap_that_replaces_the_date(self):
        for _ in range(2):  # the second run replaces the first's rows
            answer = json.loads(self.bq_predict("--date", "2026-11-30T18:00:00+00:00",
                                                "--by_kst", "--output", "json").stdout)
            self.assertEqual((answer["rows"], answer["selected_date"]), (50, "2026-12-01"))
        rows = self.fake.rows(self.PROJECT, "scores", "daily")
        ids, predictions = self.expected_numeric("2026-12-01")
        self.assertEqual([r["id"] for r in rows], ids)
        self.assertEqual([r["prediction"] for r in rows], predictions)
        self.assertEqual({(r["inference_date"], r["model_name"], r["load_date"]) for r in rows},
                         {("2026-12-01", "numeric", "2026-12-01")})
        # Pages of at most 15 rows came in; chunks of 20 went out as load jobs (3 per run).
        pages = [r for r in self.fake.requests if "/queries/" in r["path"]]
        self.assertGreaterEqual(len(pages), 3)
        self.assertEqual(self.fake.load_jobs, 6)
        self.assertEqual([t for t in self.fake.table_ids(self.PROJECT, "scores")
                          if t != "daily"], [], "no staging table is left")
        for request in self.fake.requests:
            if request["path"] != "/token":  # the token is asked for with the key's assertion
                self.assertEqual(request["headers"].get("Authorization"), "Bearer " + self.TOKEN)
        self.assertEqual({c.get("scope") for c in self.fake.token_requests},
                         {"https://www.googleapis.com/auth/bigquery"})

    def test_a_load_job_failing_halfway_changes_nothing(self):
        self.bq_predict("--date", "2026-12-01")
        before = self.fake.rows(self.PROJECT, "scores", "daily")
        self.fake.fail_load_job(2, message="the fake's load job 2 fails")
        failed = self.bq_predict("--date", "2026-12-01", check=None)
        self.assertNotEqual(failed.returncode, 0)
        self.assertIn("the fake's load job 2 fails", failed.stderr)
        self.assertNotIn(self.TOKEN, failed.stderr + failed.stdout)
        self.assertEqual(self.fake.rows(self.PROJECT, "scores", "daily"), before)
        self.assertEqual(self.fake.table_ids(self.PROJECT, "scores"), ["daily"])
        # A table BigQuery does not know is named.
        missing = self.predict("numeric/1", "--dataset", f"{self.PROJECT}.features.nope",
                               "--load_column", "load_date", "--destination",
                               f"{self.PROJECT}.scores.daily", "--warehouse",
                               f"bigquery://{self.PROJECT}", "--date", "2026-12-01", check=None)
        self.assertNotEqual(missing.returncode, 0)
        self.assertIn("nope", missing.stderr)


K8S = {"SOMLIER_K8S_IMAGE": "registry.example.com/ml/somlier:0.1",
       "SOMLIER_K8S_TRACKING_URL": "http://somlier.ml.svc:5000"}


def render(word, logical_date):
    """A templated word as Airflow renders it for a run whose logical date is `logical_date`
    (an aware datetime in UTC): ds, logical_date and macros.timedelta are Airflow's."""
    macros = types.SimpleNamespace(timedelta=datetime.timedelta)
    return jinja2.Template(word).render(ds=logical_date.strftime("%Y-%m-%d"),
                                        logical_date=logical_date, macros=macros)


class CreateV2Test(SharedHomeTest):
    ARGS = ["numeric/1", "nightly_scores", "0 3 * * *", "features.daily", "load_date",
            "scores.nightly"]

    def create_v2(self, *args, env=None, input=None):
        return subprocess.run([SOMLIER_BIN, "offline", "create_v2", *args], env=env or self.env,
                              input=input, capture_output=True, text=True, timeout=120)

    def test_dags_for_every_option_pass_the_date_airflow_renders(self):
        self.env.update(K8S)
        # 03:00 in Seoul is 18:00 UTC the day before: the KST date and ds differ by a day.
        run = datetime.datetime(2026, 11, 30, 18, 0, tzinfo=datetime.timezone.utc)
        noon = datetime.datetime(2026, 12, 1, 3, 0, tzinfo=datetime.timezone.utc)
        for by_kst, window, warehouse in ((True, 1, None), (False, 1, "default"),
                                          (True, 2, "sqlite:///srv/w.db"), (False, 3, "pg")):
            with self.subTest(by_kst=by_kst, window=window, warehouse=warehouse):
                extra = ["--dataset_load_by_kst", "true" if by_kst else "false",
                         "--dataset_load_window", str(window), "--start_date", "2026-11-20",
                         "--dry_run"]
                if warehouse:
                    extra += ["--warehouse", warehouse]
                args = list(self.ARGS)
                args[3] = "proj-123456.features.daily" if warehouse is None else args[3]
                out = self.create_v2(*args, *extra)
                self.assertEqual(out.returncode, 0, out.stderr)
                compile(out.stdout, "nightly_scores.py", "exec")
                tree = ast.parse(out.stdout)
                dag = keywords(call_of(tree, "DAG"))
                self.assertEqual(ast.literal_eval(dag["schedule"]), "0 3 * * *")
                self.assertEqual(ast.literal_eval(dag["max_active_runs"]), 1)
                self.assertEqual(ast.literal_eval(dag["catchup"]), False)
                self.assertEqual(ast.literal_eval(dag["tags"]), ["somlier", "offline"])
                start = call_of(tree, "datetime")
                self.assertEqual([ast.literal_eval(a) for a in start.args], [2026, 11, 20])
                self.assertEqual(ast.literal_eval(keywords(start)["tz"]), "Asia/Seoul")
                task = keywords(call_of(tree, "KubernetesPodOperator"))
                self.assertEqual(ast.literal_eval(task["image"]), K8S["SOMLIER_K8S_IMAGE"])
                self.assertEqual(ast.literal_eval(task["cmds"]), ["somlier"])
                arguments = ast.literal_eval(task["arguments"])
                self.assertEqual(arguments[:3], ["offline", "predict", "numeric/1"])
                options = dict(zip(arguments[3::2], arguments[4::2]))
                self.assertEqual(options["--dataset"], args[3])
                self.assertEqual(options["--load_column"], "load_date")
                self.assertEqual(options["--destination"], "scores.nightly")
                self.assertEqual(options["--window"], str(window))
                self.assertEqual(options["--warehouse"], warehouse or "bigquery://proj-123456")
                env_vars = [keywords(c) for c in ast.walk(task["env_vars"])
                            if isinstance(c, ast.Call) and getattr(c.func, "attr", "") == "V1EnvVar"]
                self.assertEqual(ast.literal_eval(env_vars[0]["value"]),
                                 K8S["SOMLIER_K8S_TRACKING_URL"])
                self.assertEqual(ast.literal_eval(env_vars[1]["name"]), "SOMLIER_TOKEN")
                self.assertNotIn("value", env_vars[1])
                date = options["--date"]
                self.assertEqual(render(date, run), "2026-12-01" if by_kst else "2026-11-30")
                self.assertEqual(render(date, noon), "2026-12-01")

        # The rendered command, run here, predicts the rows of the day it names.
        out = self.create_v2(*self.ARGS, "--warehouse", "default", "--dry_run")
        arguments = ast.literal_eval(keywords(call_of(ast.parse(out.stdout),
                                                      "KubernetesPodOperator"))["arguments"])
        arguments = [render(a, run) for a in arguments] + ["--output", "json"]
        answer = json.loads(self.somlier(*arguments, check=0).stdout)
        self.assertEqual((answer["rows"], answer["selected_date"]), (50, "2026-12-01"))
        self.assertFalse((pathlib.Path(self.home) / "dags.git").exists(), "dry runs write nothing")

    def test_refusals_name_the_value_and_write_nothing(self):
        self.env.update(K8S)
        for index, value, fragment in (
                (2, "0 */6 * * *", "runs more than once a day"),
                (2, "@hourly", "runs more than once a day"),
                (0, "numeric/7", "7"),
                (0, "ghost@live", "ghost"),
                (3, "features.daily; DROP TABLE daily", "DATASET_REF"),
                (3, "features.`daily`", "DATASET_REF"),
                (4, "load_date) OR (1=1", "DATASET_LOAD_COLUMN"),
                (5, 'scores"."x', "DESTINATION_TABLE_REF"),
                (5, "features.daily", "is the input table"),
                (1, "../escape", "DAG_ID")):
            with self.subTest(value=value):
                args = list(self.ARGS)
                args[index] = value
                out = self.create_v2(*args, "--warehouse", "default")
                self.assertNotEqual(out.returncode, 0, out.stdout)
                self.assertIn(fragment, out.stderr)
        out = self.create_v2(*self.ARGS)
        self.assertIn("names no project", out.stderr)
        for warehouse, fragment in (("postgresql://u:secret@db/w", "has a password"),
                                    ("postgresql://db/w?password=secret", "has a password"),
                                    ("prod-wh", "letters, digits"),
                                    ("mysql://db/w", "is not sqlite"),
                                    ("sqlite:///w.db", None)):
            args = list(self.ARGS)
            if warehouse == "sqlite:///w.db":  # a project only BigQuery has
                args[3], fragment = "proj-123456.features.daily", "names a project"
            out = self.create_v2(*args, "--warehouse", warehouse)
            self.assertIn(fragment, out.stderr, warehouse)
            self.assertNotIn("secret", out.stderr)
        del self.env["SOMLIER_K8S_IMAGE"]
        out = self.create_v2(*self.ARGS, "--warehouse", "default")
        self.assertIn("SOMLIER_K8S_IMAGE", out.stderr)
        self.assertFalse((pathlib.Path(self.home) / "dags.git").exists())

    def test_into_the_local_dags_repository_then_a_pull_request_with_the_token_from_stdin(self):
        self.env.update(K8S)
        dags = self.tmp / "dags.git"
        self.env["SOMLIER_DAGS_REPO"] = str(dags)
        subprocess.run(["git", "init", "-q", "--bare", "--initial-branch=main", str(dags)],
                       check=True)
        seed = self.tmp / "seed"
        subprocess.run(["git", "clone", "-q", str(dags), str(seed)], check=True,
                       capture_output=True)
        (seed / "README").write_text("dags\n")
        for args in (["add", "README"], ["-c", "user.name=t", "-c", "user.email=t@e", "commit",
                                         "-qm", "start"], ["push", "-q", "origin", "HEAD:main"]):
            subprocess.run(["git", "-C", str(seed), *args], check=True, capture_output=True)
        out = self.create_v2(*self.ARGS, "--warehouse", "default")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("created DAG nightly_scores: dags/nightly_scores.py on main", out.stdout)
        log = subprocess.run(["git", "-C", str(dags), "log", "--format=%s", "main"],
                             capture_output=True, text=True, check=True).stdout
        self.assertEqual(log.split("\n")[0], "feat(dags/nightly_scores): add nightly_scores")
        listed = json.loads(self.somlier("offline", "list", "--output", "json", check=0).stdout)
        self.assertIn("nightly_scores", [d["dag_id"] for d in listed["dags"]])

        github = FakeGitHub()
        self.addCleanup(github.close)
        env = dict(self.env, SOMLIER_DAGS_GITHUB_REPO="team/dags",
                   SOMLIER_GITHUB_API_URL=github.url)
        args = list(self.ARGS)
        args[1] = "churn_daily"
        args[0] = "churn@champion"
        watch = CmdlineWatch(GITHUB_TOKEN)
        try:
            out = self.create_v2(*args, "-", "--warehouse", "default", env=env,
                                 input=GITHUB_TOKEN + "\n")
        finally:
            self.assertEqual(watch.close(), [], "the token was in a process's command line")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("pull request https://github.example/team/dags/pull/1", out.stdout)
        method, path, headers, body = github.requests[0]
        self.assertEqual((method, path), ("POST", "/repos/team/dags/pulls"))
        self.assertEqual(headers["Authorization"], "Bearer " + GITHUB_TOKEN)
        self.assertEqual((body["head"], body["base"]), ("somlier/churn-daily", "main"))
        self.assertEqual(body["title"], "feat(dags/churn_daily): add churn_daily")
        branch = subprocess.run(["git", "-C", str(dags), "show",
                                 "somlier/churn-daily:dags/churn_daily.py"],
                                capture_output=True, text=True, check=True).stdout
        self.assertIn('"churn@champion"', branch)
        for place in (dags, pathlib.Path(self.home)):
            found = subprocess.run(["grep", "-rl", GITHUB_TOKEN, str(place)],
                                   capture_output=True, text=True).stdout
            self.assertEqual(found, "", "the token was written to a file")


if __name__ == "__main__":
    unittest.main()

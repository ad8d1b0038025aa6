"""Limits of what the server accepts, at every door: string lengths (MLflow's, from
tracking/validation.h's table), integers range-checked before conversion, the download's
Content-Disposition, and error messages that never quote the server's own paths."""
import json
import unittest
import urllib.error
import urllib.parse
import urllib.request

from somlier_e2e import HttpError, ServerProcess, SomlierTestCase, request_json

HUGE = 2 ** 64 - 1  # parsed as uint64: wrapped to -1 before the fix


class LimitsTest(SomlierTestCase):
    def setUp(self):
        super().setUp()
        self.server = ServerProcess(self.env)
        self.addCleanup(self.server.stop)

    def call(self, method, endpoint, body=None):
        url = f"{self.server.url}/api/2.0/mlflow/{endpoint}"
        if method == "GET" and body:
            url += "?" + urllib.parse.urlencode(body, doseq=True)
            body = None
        return request_json(method, url, body)

    def refused(self, method, endpoint, body, *fragments, seed=False):
        """The request is answered 400 INVALID_PARAMETER_VALUE (422 in the seed's shape) with
        every fragment in the message; returns the message."""
        with self.assertRaises(HttpError) as caught:
            if seed:
                request_json(method, self.server.url + endpoint, body)
            else:
                self.call(method, endpoint, body)
        error = caught.exception
        if seed:
            self.assertEqual(error.status, 422, error.body)
            message = error.json["detail"]
        else:
            self.assertEqual((error.status, error.json["error_code"]),
                             (400, "INVALID_PARAMETER_VALUE"), error.body)
            message = error.json["message"]
        for fragment in fragments:
            self.assertIn(fragment, message)
        self.assertNotIn(str(self.home), message)
        return message

    def test_strings_over_their_limits_are_refused_and_change_nothing(self):
        exp = self.call("POST", "experiments/create", {"name": "limits"})["experiment_id"]

        # The reported defect: a 5 MB run name was stored.
        with self.assertRaises(HttpError) as caught:
            self.call("POST", "runs/create", {"experiment_id": exp, "run_name": "x" * (5 << 20)})
        self.assertIn(caught.exception.status, (400, 413), caught.exception.body)
        if caught.exception.status == 400:
            self.assertIn("is 5242880 characters long; the limit is 250",
                          caught.exception.json["message"])
        self.refused("POST", "runs/create", {"experiment_id": exp, "run_name": "n" * 251},
                     "run name 'nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn...' is 251 characters "
                     "long; the limit is 250")
        self.refused("POST", "runs/create",
                     {"experiment_id": exp, "tags": [{"key": "mlflow.runName", "value": "n" * 251}]},
                     "run name")
        self.refused("POST", "runs/create", {"experiment_id": exp, "user_id": "u" * 257},
                     "user_id is 257 characters long; the limit is 256")
        self.assertEqual(self.call("POST", "runs/search", {"experiment_ids": [exp]}), {},
                         "no run was created")

        # Characters, not bytes: 250 Hangul syllables (750 bytes) are a valid name.
        run = self.call("POST", "runs/create", {"experiment_id": exp, "run_name": "가" * 250})
        run_id = run["run"]["info"]["run_id"]
        self.assertEqual(run["run"]["info"]["run_name"], "가" * 250)
        self.refused("POST", "runs/update", {"run_id": run_id, "run_name": "n" * 251}, "run name")
        self.refused("POST", "runs/set-tag",
                     {"run_id": run_id, "key": "mlflow.runName", "value": "n" * 251}, "run name")
        self.refused("POST", "runs/log-parameter", {"run_id": run_id, "key": "p", "value": "v" * 6001},
                     "the value of param 'p' is 6001 characters long; the limit is 6000")
        self.refused("POST", "runs/set-tag", {"run_id": run_id, "key": "t", "value": "v" * 8001},
                     "the value of tag 't' is 8001 characters long; the limit is 8000")
        self.refused("POST", "runs/log-metric",
                     {"run_id": run_id, "key": "k" * 251, "value": 1, "timestamp": 1},
                     "metric key 'kkkk", "is 251 characters long; the limit is 250")
        # log-batch's fast path: one value too long, nothing written.
        self.refused("POST", "runs/log-batch", {
            "run_id": run_id,
            "metrics": [{"key": "m", "value": 1, "timestamp": 1}],
            "params": [{"key": "ok", "value": "v"}],
            "tags": [{"key": "fine", "value": "v"}, {"key": "long", "value": "v" * 8001}]},
            "the value of tag 'long' is 8001 characters long")
        self.refused("POST", "runs/log-batch", {
            "run_id": run_id, "params": [{"key": "p", "value": "v" * 6001}]}, "param 'p'")
        # At the limits: accepted.
        self.call("POST", "runs/log-parameter", {"run_id": run_id, "key": "p", "value": "v" * 6000})
        self.call("POST", "runs/set-tag", {"run_id": run_id, "key": "t", "value": "v" * 8000})
        data = self.call("GET", "runs/get", {"run_id": run_id})["run"]
        self.assertEqual(data["info"]["run_name"], "가" * 250)
        self.assertNotIn("metrics", data["data"])
        self.assertEqual([p["key"] for p in data["data"]["params"]], ["p"])
        self.assertNotIn("fine", [t["key"] for t in data["data"]["tags"]])

        # Experiments.
        self.refused("POST", "experiments/create", {"name": "e" * 501},
                     "experiment name 'eeee", "is 501 characters long; the limit is 500")
        self.refused("POST", "experiments/create",
                     {"name": "e", "artifact_location": "/a" * 1025},
                     "artifact_location is 2050 characters long; the limit is 2048")
        self.refused("POST", "experiments/update", {"experiment_id": exp, "new_name": "e" * 501},
                     "experiment name")
        self.refused("POST", "experiments/set-experiment-tag",
                     {"experiment_id": exp, "key": "mlflow.note.content", "value": "d" * 5001},
                     "the value of experiment tag 'mlflow.note.content' is 5001 characters long")
        names = [e["name"] for e in self.call("POST", "experiments/search", {})["experiments"]]
        self.assertEqual(sorted(names), ["Default", "limits"])

        # The registry.
        self.refused("POST", "registered-models/create", {"name": "m" * 257},
                     "registered model name 'mmmm", "is 257 characters long; the limit is 256")
        self.refused("POST", "registered-models/create", {"name": "m", "description": "d" * 5001},
                     "description is 5001 characters long; the limit is 5000")
        self.assertNotIn("registered_models", self.call("GET", "registered-models/search", {}))
        self.call("POST", "registered-models/create", {"name": "m"})
        self.refused("PATCH", "registered-models/update", {"name": "m", "description": "d" * 5001},
                     "description")
        self.refused("POST", "registered-models/set-tag",
                     {"name": "m", "key": "t", "value": "v" * 5001}, "registered model tag 't'")
        source = f"mlflow-artifacts:/{exp}/{run_id}/artifacts/model"
        self.refused("POST", "model-versions/create",
                     {"name": "m", "source": source, "description": "d" * 5001}, "description")
        self.refused("POST", "model-versions/create",
                     {"name": "m", "source": source + "/" + "s" * 500}, "model source")
        self.call("POST", "model-versions/create", {"name": "m", "source": source})
        self.refused("PATCH", "model-versions/update",
                     {"name": "m", "version": "1", "description": "d" * 5001}, "description")
        self.refused("POST", "model-versions/set-tag",
                     {"name": "m", "version": "1", "key": "t", "value": "v" * 5001},
                     "model version tag 't'")
        self.refused("POST", "registered-models/alias",
                     {"name": "m", "alias": "a" * 256, "version": "1"}, "alias")
        version = self.call("GET", "model-versions/get", {"name": "m", "version": "1"})
        self.assertEqual(version["model_version"]["description"], "")
        self.assertNotIn("tags", version["model_version"])

        # The seed's door and the CLI's go through the same services.
        self.refused("POST", "/register", {"run_id": run_id, "model_name": "m" * 257},
                     "registered model name", seed=True)
        cli = self.somlier("register", run_id, "m" * 257)
        self.assertFails(cli, 2, "registered model name", "is 257 characters long")

    def test_integers_are_range_checked_before_conversion(self):
        exp = self.call("POST", "experiments/create", {"name": "ints"})["experiment_id"]
        run_id = self.call("POST", "runs/create", {"experiment_id": exp})["run"]["info"]["run_id"]
        self.refused("POST", "runs/create", {"experiment_id": exp, "start_time": HUGE},
                     f"'start_time' is {HUGE}, out of range: expected an integer from 0 to "
                     "9223372036854775807")
        self.refused("POST", "runs/log-metric",
                     {"run_id": run_id, "key": "m", "value": 1, "timestamp": HUGE},
                     f"'timestamp' is {HUGE}, out of range")
        self.refused("POST", "runs/log-metric",
                     {"run_id": run_id, "key": "m", "value": 1, "timestamp": 1, "step": 1e300},
                     "'step' is 1e+300, out of range")
        self.refused("POST", "runs/log-metric",
                     {"run_id": run_id, "key": "m", "value": 1, "timestamp": 1, "step": 0.5},
                     "'step' is 0.5, not a whole number")
        self.refused("POST", "runs/log-batch",
                     {"run_id": run_id, "metrics": [{"key": "m", "value": 1, "timestamp": HUGE}]},
                     f"'metrics[0].timestamp' is {HUGE}, out of range")
        self.refused("POST", "runs/update", {"run_id": run_id, "end_time": HUGE}, "'end_time'")
        self.refused("POST", "runs/search", {"experiment_ids": [exp], "max_results": HUGE},
                     f"'max_results' is {HUGE}, out of range")
        self.refused("GET", "registered-models/search", {"max_results": str(HUGE)},
                     f"'max_results' is \"{HUGE}\", out of range")
        self.refused("GET", "experiments/get", {"experiment_id": HUGE}, str(HUGE))
        self.assertNotIn("metrics", self.call("GET", "runs/get", {"run_id": run_id})["run"]["data"])
        self.assertEqual(len(self.call("POST", "runs/search", {"experiment_ids": [exp]})["runs"]), 1)

        # The seed's endpoints and SoMLier's own.
        deploy = {"project_name": "p", "model_name": "m", "model_version": 1}
        self.refused("POST", "/deploy", {**deploy, "workers": 2147483648},
                     "'workers' is 2147483648, out of range: expected an integer from 1 to 64",
                     seed=True)
        self.refused("POST", "/deploy", {**deploy, "workers": 2 ** 32 + 2}, "out of range",
                     seed=True)  # would have been 2 workers
        self.refused("POST", "/deploy", {**deploy, "model_version": HUGE}, "'model_version'",
                     seed=True)
        self.refused("POST", "/deployments/logs", {"name": "d", "tail": -1}, "'tail' is -1",
                     seed=True)
        train = {"project_name": "p", "project_ref": "main", "github_uri": str(self.tmp)}
        self.refused("POST", "/train", {**train, "max_parallel": 2147483648},
                     "'max_parallel' is 2147483648, out of range: expected an integer from 0 to "
                     "2147483647", seed=True)
        self.refused("POST", "/train", {**train, "max_parallel": 2 ** 32 + 1}, "out of range",
                     seed=True)  # would have been 1
        self.refused("POST", "/train", {**train, "timeout": HUGE}, f"'timeout' is {HUGE}",
                     seed=True)
        self.refused("POST", "/runs/list", {"project_name": "ints", "max_results": HUGE},
                     "'max_results'", seed=True)
        self.refused("POST", "/runs/logs", {"run_id": run_id, "offset": HUGE}, "'offset'",
                     seed=True)
        self.refused("POST", "/search", {"project_name": "ints", "standard_metric": "m",
                                         "order_by": "DESC", "top": HUGE}, "'top'", seed=True)

    def test_downloads_name_the_file_safely(self):
        exp = self.call("POST", "experiments/create", {"name": "dl"})["experiment_id"]
        run_id = self.call("POST", "runs/create", {"experiment_id": exp})["run"]["info"]["run_id"]
        root = f"{self.server.url}/api/2.0/mlflow-artifacts/artifacts/{exp}/{run_id}/artifacts"

        def disposition(name):
            quoted = urllib.parse.quote(name)
            request_json("PUT", f"{root}/{quoted}", b"data")
            with urllib.request.urlopen(f"{root}/{quoted}", timeout=30) as response:
                self.assertEqual(response.read(), b"data")
                return response.headers.get_all("Content-Disposition"), response.headers

        self.assertEqual(disposition("plain.txt")[0], ['attachment; filename="plain.txt"'])
        self.assertEqual(disposition('we"ird;x=1 name.txt')[0],
                         ['attachment; filename="we\\"ird;x=1 name.txt"'])
        self.assertEqual(disposition("모델 v1.pkl")[0],
                         ["attachment; filename=\"__ v1.pkl\"; "
                          "filename*=UTF-8''%EB%AA%A8%EB%8D%B8%20v1.pkl"])
        # Control characters never reach the header (the routes refuse CR and LF already).
        self.assertEqual(disposition("tab\there\x1b\x7f.txt")[0],
                         ['attachment; filename="tabhere.txt"'])

    def test_errors_never_quote_the_servers_paths(self):
        exp = self.call("POST", "experiments/create", {"name": "paths"})["experiment_id"]
        run_id = self.call("POST", "runs/create", {"experiment_id": exp})["run"]["info"]["run_id"]
        root = f"{self.server.url}/api/2.0/mlflow-artifacts/artifacts/{exp}/{run_id}/artifacts"
        request_json("PUT", f"{root}/dir/file.txt", b"x")
        request_json("PUT", f"{root}/plain.txt", b"x")
        for path, fragment in (
                ("dir", f"artifact '{exp}/{run_id}/artifacts/dir' is a directory"),
                ("plain.txt/under", f"'{exp}/{run_id}/artifacts/plain.txt' is a file")):
            with self.assertRaises(HttpError) as caught:
                request_json("PUT", f"{root}/{path}", b"x")
            self.assertEqual(caught.exception.status, 400, caught.exception.body)
            self.assertIn(fragment, caught.exception.json["message"])
            self.assertNotIn(str(self.home), caught.exception.body)
        # A run whose artifacts live elsewhere: named by the location the client gave.
        elsewhere = str(self.tmp / "elsewhere")
        other = self.call("POST", "experiments/create",
                          {"name": "other", "artifact_location": elsewhere})["experiment_id"]
        other_run = self.call("POST", "runs/create", {"experiment_id": other})["run"]["info"]
        message = self.refused("GET", "artifacts/list", {"run_id": other_run["run_id"]},
                               other_run["artifact_uri"])
        self.assertNotIn("artifact root", message)


if __name__ == "__main__":
    unittest.main()

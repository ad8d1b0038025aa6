"""`somlier batch create` end to end: the DAG it renders (compiled and read with `ast`, as
Airflow would import it), what it refuses, and the DAGs repository flow into a real local
git repository (the default one under SOMLIER_HOME, and a bare repository of the test's)."""
import ast
import base64
import http.server
import json
import pathlib
import subprocess
import threading
import time
import unittest

from somlier_e2e import ServerProcess, SomlierTestCase, request_json

GITHUB_TOKEN = "ghp_" + "Q" * 36


class JsonHandler(http.server.BaseHTTPRequestHandler):
    """What the fakes below share: quiet, and JSON answers."""

    def log_message(self, *args):
        pass

    def _send(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class FakeGitHub:
    """A FAKE of GitHub's REST API (no GitHub here): POST /repos/{owner}/{repo}/pulls and the
    GET of open pull requests by head, as documented. `answers` is a queue of (status, body)
    for the next POSTs; after it, 201 with an html_url."""

    def __init__(self):
        self.requests = []
        self.answers = []
        fake = self

        class Handler(JsonHandler):

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                fake.requests.append(("POST", self.path, dict(self.headers), body))
                if fake.answers:
                    return self._send(*fake.answers.pop(0))
                number = len(fake.requests)
                self._send(201, {"number": number,
                                 "html_url": f"https://github.example/team/dags/pull/{number}"})

            def do_GET(self):
                fake.requests.append(("GET", self.path, dict(self.headers), None))
                self._send(200, [])

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class FakeAirflow:
    """A FAKE of Airflow's stable REST API (no Airflow here): GET /api/v1/dags/{id} (404 until
    the DAG "is parsed", after `parse_after` looks), GET /api/v1/importErrors and PATCH
    /api/v1/dags/{id}?update_mask=is_paused, behind Basic auth."""

    def __init__(self, user="airflow", password="pw-" + "x" * 12):
        self.auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self.requests = []
        self.parse_after = {}  # dag id -> looks before it is known
        self.paused = {}
        self.import_errors = []
        fake = self

        class Handler(JsonHandler):

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                fake.requests.append((self.command, self.path, self.headers.get("Authorization"),
                                      body))
                if self.headers.get("Authorization") != fake.auth:
                    return self._send(401, {"title": "Unauthorized", "status": 401,
                                            "detail": "Invalid credentials"})
                path, _, query = self.path.partition("?")
                if path == "/api/v1/importErrors":
                    return self._send(200, {"import_errors": fake.import_errors,
                                            "total_entries": len(fake.import_errors)})
                if path.startswith("/api/v1/dags/"):
                    dag_id = path[len("/api/v1/dags/"):]
                    left = fake.parse_after.get(dag_id)
                    if left is None or left > 0:
                        if left is not None and self.command == "GET":
                            fake.parse_after[dag_id] = left - 1
                        return self._send(404, {"title": "DAG not found", "status": 404,
                                                "detail": f"The DAG with dag_id: {dag_id} "
                                                          "was not found"})
                    if self.command == "PATCH":
                        assert query == "update_mask=is_paused", query
                        fake.paused[dag_id] = body["is_paused"]
                    return self._send(200, {"dag_id": dag_id, "is_active": True,
                                            "is_paused": fake.paused.get(dag_id, True),
                                            "has_import_errors": False,
                                            "fileloc": f"/opt/airflow/dags/{dag_id}.py"})
                self._send(404, {"title": "Not Found", "status": 404})

            do_GET = do_PATCH = _handle

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.user, self.password = user, password
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class CmdlineWatch:
    """Reads every process's /proc/*/cmdline while a command runs, to show a token is in
    none of them."""

    def __init__(self, secret):
        self.secret = secret.encode()
        self.seen = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def _watch(self):
        while not self.stop.is_set():
            for cmdline in pathlib.Path("/proc").glob("[0-9]*/cmdline"):
                try:
                    data = cmdline.read_bytes()
                except OSError:
                    continue
                if self.secret in data:
                    self.seen.append(data)
            time.sleep(0.002)

    def close(self):
        self.stop.set()
        self.thread.join(timeout=5)
        return self.seen


def call_of(tree, name):
    """The first call of `name` (a plain name or an attribute) in the module."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if (isinstance(func, ast.Name) and func.id == name) or (
                    isinstance(func, ast.Attribute) and func.attr == name):
                return node
    raise AssertionError(f"no call of {name}")


def keywords(call):
    return {k.arg: k.value for k in call.keywords}


class BatchCreateTest(SomlierTestCase):
    def create(self, *args, env=None):
        return self.somlier("batch", "create", *args, env=env)

    def git(self, repo, *args):
        return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                              check=True).stdout

    def test_the_dag_compiles_and_says_what_was_asked(self):
        out = self.create("registry.example.com/team/job:1.2", "0 3 * * *",
                          "python -m job --day 'last day' --note \"it's\"", "nightly_job",
                          "--dry_run", "--use_gpu", "--namespace", "batch",
                          "--start_date", "2026-11-30", "--catchup")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("nothing was written", out.stderr)
        tree = ast.parse(out.stdout)
        compile(out.stdout, "nightly_job.py", "exec")
        imports = {(n.module, a.name) for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
                   for a in n.names}
        self.assertIn(("airflow.providers.cncf.kubernetes.operators.pod",
                       "KubernetesPodOperator"), imports)
        self.assertIn(("airflow", "DAG"), imports)
        dag = keywords(call_of(tree, "DAG"))
        self.assertEqual(ast.literal_eval(dag["dag_id"]), "nightly_job")
        self.assertEqual(ast.literal_eval(dag["schedule"]), "0 3 * * *")
        self.assertEqual(ast.literal_eval(dag["catchup"]), True)
        self.assertEqual(ast.literal_eval(dag["max_active_runs"]), 1)
        self.assertNotIn("schedule_interval", dag)
        start = call_of(tree, "datetime")
        self.assertEqual([ast.literal_eval(a) for a in start.args], [2026, 11, 30])
        self.assertEqual(ast.literal_eval(keywords(start)["tz"]), "Asia/Seoul")
        defaults = next(n.value for n in tree.body if isinstance(n, ast.Assign)
                        and n.targets[0].id == "default_args")
        self.assertEqual({k: v for k, v in ast.literal_eval(defaults).items() if k != "owner"},
                         {"depends_on_past": False, "retries": 3})
        task = keywords(call_of(tree, "KubernetesPodOperator"))
        self.assertEqual(ast.literal_eval(task["image"]), "registry.example.com/team/job:1.2")
        self.assertEqual(ast.literal_eval(task["cmds"]), ["python"])
        self.assertEqual(ast.literal_eval(task["arguments"]),
                         ["-m", "job", "--day", "last day", "--note", "it's"])
        self.assertEqual(ast.literal_eval(task["namespace"]), "batch")
        self.assertEqual(ast.literal_eval(task["on_finish_action"]), "delete_pod")
        resources = keywords(task["container_resources"])
        self.assertEqual(ast.literal_eval(resources["limits"])["nvidia.com/gpu"], "1")
        self.assertFalse((self.home / "dags.git").exists(), "a dry run writes nothing")

    def test_bad_input_is_refused_naming_it(self):
        good = ["busybox:1", "@daily", "echo hi", "job"]
        for index, value, fragment in (
                (1, "61 9 * * *", "minute '61' is not 0-59"),
                (1, "0 9 * *", "has 4 field(s)"),
                (0, "Bad Image", "is not an image reference"),
                (2, "echo {{ ds }}", "Jinja"),
                (2, "echo $(id)", "$("),
                (2, "a; rm -rf /", "';'"),
                (3, "no spaces", "DAG_ID 'no spaces'")):
            with self.subTest(value=value):
                args = list(good)
                args[index] = value
                self.assertFails(self.create(*args), 2, fragment)
        self.assertFails(self.create(*good, "--start_date", "2026-02-30"), 2, "2026-02-30")
        self.assertFails(self.create(*good, "--namespace", "Not_A_Namespace"), 2, "namespace")
        self.assertFalse((self.home / "dags.git").exists())

    def test_dags_go_to_the_default_branch_of_the_dags_repository(self):
        out = self.create("busybox:1", "@daily", "echo hi", "first_job")
        self.assertEqual(out.returncode, 0, out.stderr)
        bare = self.home / "dags.git"
        self.assertIn("created DAG first_job: dags/first_job.py on main", out.stdout)
        log = self.git(bare, "log", "--format=%s", "main")
        self.assertEqual(log.splitlines()[0], "feat(dags/first_job): add first_job")
        source = self.git(bare, "show", "main:dags/first_job.py")
        ast.parse(source)

        # The same id again, or one whose branch would be the same, is refused; nothing moves.
        head = self.git(bare, "rev-parse", "main")
        self.assertFails(self.create("busybox:1", "@daily", "echo hi", "first_job"), 4,
                         "already exists")
        self.assertFails(self.create("busybox:1", "@daily", "echo hi", "first-job"), 4,
                         "would share the branch somlier/first-job with DAG 'first_job'")
        self.assertEqual(self.git(bare, "rev-parse", "main"), head)
        self.assertEqual(list((self.home / "work").glob("dags-*")), [], "clones are removed")

        # A repository of the team's (SOMLIER_DAGS_REPO), also through the server's REST API.
        team = self.tmp / "team-dags.git"
        subprocess.run(["git", "init", "--quiet", "--bare", "--initial-branch=trunk", str(team)],
                       check=True)
        seed = self.tmp / "seed"
        subprocess.run(["git", "clone", "--quiet", str(team), str(seed)], check=True,
                       capture_output=True)
        (seed / "README").write_text("dags\n")
        (seed / "dags").mkdir()
        (seed / "dags" / "hand_written.py").write_text("# a DAG somebody else wrote\n")
        self.git(seed, "add", "README", "dags")
        self.git(seed, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "start")
        self.git(seed, "push", "-q", "origin", "HEAD:trunk")
        env = dict(self.env, SOMLIER_DAGS_REPO=str(team))
        server = ServerProcess(env)
        self.addCleanup(server.stop)
        answer = request_json("POST", server.url + "/batch/create", {
            "docker_image": "busybox:1", "schedule": "30 2 * * MON", "entrypoint": "echo weekly",
            "dag_id": "weekly.report"})
        self.assertEqual((answer["branch"], answer["path"]), ("trunk", "dags/weekly.report.py"))
        self.assertEqual(self.git(team, "rev-parse", "trunk").strip(), answer["commit"])
        listed = request_json("POST", server.url + "/offline/list", {})
        # Only SoMLier's DAGs are listed, not the hand-written one.
        self.assertEqual(listed, {"dags": [{"dag_id": "weekly.report",
                                            "path": "dags/weekly.report.py",
                                            "made_by": "somlier batch create"}],
                                  "airflow_configured": False})
        out = self.somlier("offline", "list", "--output", "json", env=env)
        self.assertEqual(json.loads(out.stdout)["dags"][0]["dag_id"], "weekly.report")
        text = self.somlier("offline", "list", env=env)
        self.assertRegex(text.stdout, r"weekly.report\s+dags/weekly.report.py\s+somlier batch "
                                      r"create\s+-")
        self.assertNotIn("hand_written", text.stdout)
        self.assertIn("not configured", text.stderr)



class PullRequestTest(SomlierTestCase):
    def setUp(self):
        super().setUp()
        self.github = FakeGitHub()
        self.addCleanup(self.github.close)
        self.team = self.tmp / "team-dags.git"
        subprocess.run(["git", "init", "--quiet", "--bare", "--initial-branch=main",
                        str(self.team)], check=True)
        seed = self.tmp / "seed"
        subprocess.run(["git", "clone", "--quiet", str(self.team), str(seed)], check=True,
                       capture_output=True)
        (seed / "README").write_text("dags\n")
        subprocess.run(["git", "-C", str(seed), "add", "README"], check=True)
        subprocess.run(["git", "-C", str(seed), "-c", "user.name=t", "-c", "user.email=t@e",
                        "commit", "-qm", "start"], check=True)
        subprocess.run(["git", "-C", str(seed), "push", "-q", "origin", "HEAD:main"], check=True,
                       capture_output=True)
        self.pr_env = dict(self.env, SOMLIER_DAGS_REPO=str(self.team),
                           SOMLIER_DAGS_GITHUB_REPO="team/dags",
                           SOMLIER_GITHUB_API_URL=self.github.url,
                           SOMLIER_GITHUB_TOKEN=GITHUB_TOKEN)

    def git(self, *args):
        return subprocess.run(["git", "-C", str(self.team), *args], capture_output=True,
                              text=True).stdout

    def create(self, dag_id, entrypoint="echo hi"):
        watch = CmdlineWatch(GITHUB_TOKEN)
        try:
            return self.somlier("batch", "create", "busybox:1", "@daily", entrypoint, dag_id,
                                env=self.pr_env)
        finally:
            self.assertEqual(watch.close(), [], "the token was in a process's command line")

    def test_a_branch_a_commit_and_a_pull_request_then_a_retry_that_only_opens_it(self):
        main = self.git("rev-parse", "main")
        self.github.answers.append(
            (403, {"message": "Resource not accessible by personal access token",
                   "documentation_url": "https://docs.github.com/rest"}))
        failed = self.create("nightly_job")
        self.assertFails(failed, 5, "dags/nightly_job.py is on the branch somlier/nightly-job",
                         "GitHub answered 403: Resource not accessible by personal access token",
                         "run the same command again")
        self.assertEqual(self.git("rev-parse", "main"), main, "the default branch is untouched")
        self.assertEqual(self.git("log", "--format=%s", "somlier/nightly-job").splitlines()[0],
                         "feat(dags/nightly_job): add nightly_job")
        pushed = self.git("rev-parse", "somlier/nightly-job")

        again = self.create("nightly_job")
        self.assertEqual(again.returncode, 0, again.stderr)
        self.assertIn("opened the pull request of DAG nightly_job", again.stdout)
        self.assertIn("https://github.example/team/dags/pull/2", again.stdout)
        self.assertEqual(self.git("rev-parse", "somlier/nightly-job"), pushed, "no second push")
        method, path, headers, body = self.github.requests[-1]
        self.assertEqual((method, path), ("POST", "/repos/team/dags/pulls"))
        self.assertEqual(headers["Authorization"], f"Bearer {GITHUB_TOKEN}")
        self.assertEqual(headers["Accept"], "application/vnd.github+json")
        self.assertEqual({k: body[k] for k in ("title", "head", "base")},
                         {"title": "feat(dags/nightly_job): add nightly_job",
                          "head": "somlier/nightly-job", "base": "main"})

        # Its branch holds that DAG as it was: another ENTRYPOINT is not slipped into review.
        changed = self.create("nightly_job", "echo changed")
        self.assertFails(changed, 4, "does not hold exactly this dags/nightly_job.py")
        self.assertEqual(self.git("rev-parse", "somlier/nightly-job"), pushed)

        # Its twin id shares the branch: refused before anything is pushed.
        twin = self.create("nightly-job")
        self.assertFails(twin, 4, "somlier/nightly-job", "another DAG")
        self.assertEqual(len(self.github.requests), 2)

        # The token is nowhere it could leak from.
        self.assertNotIn(GITHUB_TOKEN, failed.stdout + failed.stderr + again.stdout +
                         again.stderr + twin.stderr + changed.stderr)
        for root in (self.team, self.home):
            for path in pathlib.Path(root).rglob("*"):
                if path.is_file():
                    self.assertNotIn(GITHUB_TOKEN.encode(), path.read_bytes(), str(path))
        encoded = base64.b64encode(f"x-access-token:{GITHUB_TOKEN}".encode())
        for path in pathlib.Path(self.home).rglob("*"):
            if path.is_file():
                self.assertNotIn(encoded, path.read_bytes(), str(path))

    def test_a_repository_url_that_names_no_github_repository_is_refused_before_any_push(self):
        env = dict(self.pr_env)
        del env["SOMLIER_DAGS_GITHUB_REPO"]
        out = self.somlier("batch", "create", "busybox:1", "@daily", "echo hi", "job", env=env)
        self.assertFails(out, 2, "SOMLIER_DAGS_GITHUB_REPO")
        self.assertEqual(self.git("branch", "--list", "somlier/*"), "")



class AirflowCheckTest(SomlierTestCase):
    def setUp(self):
        super().setUp()
        self.airflow = FakeAirflow()
        self.addCleanup(self.airflow.close)
        self.af_env = dict(self.env, SOMLIER_AIRFLOW_URL=self.airflow.url,
                           SOMLIER_AIRFLOW_USERNAME=self.airflow.user,
                           SOMLIER_AIRFLOW_PASSWORD=self.airflow.password)
        self.fast = ["--airflow_poll_ms", "50"]

    def test_create_waits_for_the_parse_then_unpauses(self):
        self.airflow.parse_after["daily_job"] = 3
        out = self.somlier("batch", "create", "busybox:1", "@daily", "echo hi", "daily_job",
                           "--check_airflow", "--unpause", *self.fast, env=self.af_env)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("waiting for Airflow to parse dags/daily_job.py", out.stderr)
        self.assertIn("DAG daily_job is active and was unpaused", out.stderr)
        looks = [r for r in self.airflow.requests if r[0] == "GET" and "dags/daily_job" in r[1]]
        self.assertGreaterEqual(len(looks), 4)
        patch = [r for r in self.airflow.requests if r[0] == "PATCH"]
        self.assertEqual([(p[1], p[3]) for p in patch],
                         [("/api/v1/dags/daily_job?update_mask=is_paused", {"is_paused": False})])
        self.assertEqual({r[2] for r in self.airflow.requests}, {self.airflow.auth})
        self.assertNotIn(self.airflow.password, out.stdout + out.stderr)

        # The list shows Airflow's view of each DAG.
        self.airflow.parse_after["other_job"] = 100
        self.assertEqual(self.somlier("batch", "create", "busybox:1", "@daily", "echo hi",
                                      "other_job", env=self.af_env).returncode, 0)
        listed = json.loads(self.somlier("offline", "list", "--output", "json",
                                         env=self.af_env).stdout)
        self.assertEqual({d["dag_id"]: d["airflow"] for d in listed["dags"]},
                         {"daily_job": {"known": True, "active": True, "paused": False},
                          "other_job": {"known": False, "active": False, "paused": False}})
        text = self.somlier("offline", "list", env=self.af_env).stdout
        self.assertRegex(text, r"daily_job .* active")
        self.assertRegex(text, r"other_job .* not parsed yet")

        # Later, the same check: active and unpaused now.
        again = self.somlier("offline", "check", "daily_job", "--output", "json", *self.fast,
                             env=self.af_env)
        self.assertEqual(again.returncode, 0, again.stderr)
        self.assertEqual(json.loads(again.stdout)["paused"], False)

    def test_import_errors_timeouts_and_refusals_are_told(self):
        self.airflow.import_errors.append({
            "import_error_id": 1, "filename": "/opt/airflow/dags/broken.py",
            "timestamp": "2026-12-02T00:00:00+00:00",
            "stack_trace": "Traceback (most recent call last):\nNameError: name 'x' is not defined"})
        broken = self.somlier("offline", "check", "broken", *self.fast, env=self.af_env)
        self.assertFails(broken, 5, "Airflow could not import dags/broken.py",
                         "NameError: name 'x' is not defined")

        slow = self.somlier("offline", "check", "never", "--airflow_timeout", "1", *self.fast,
                            env=self.af_env)
        self.assertFails(slow, 6, "did not show DAG never as active within 1 s",
                         "somlier offline check never")

        wrong = dict(self.af_env, SOMLIER_AIRFLOW_PASSWORD="wrong")
        refused = self.somlier("offline", "check", "x", *self.fast, env=wrong)
        self.assertFails(refused, 5, "refused GET /api/v1/dags/x (401: Invalid credentials)",
                         "SOMLIER_AIRFLOW_PASSWORD")
        self.assertNotIn("wrong", refused.stderr.replace("refused", ""))

        gone = dict(self.af_env, SOMLIER_AIRFLOW_URL="http://127.0.0.1:1")
        self.assertFails(self.somlier("offline", "check", "x", *self.fast, env=gone), 6,
                         "cannot reach Airflow at http://127.0.0.1:1")
        unset = dict(self.af_env)
        del unset["SOMLIER_AIRFLOW_URL"]
        self.assertFails(self.somlier("offline", "check", "x", env=unset), 5,
                         "set SOMLIER_AIRFLOW_URL")
        self.assertFails(self.somlier("offline", "check", "../x", env=self.af_env), 2, "DAG_ID")


if __name__ == "__main__":
    unittest.main()

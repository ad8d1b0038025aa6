"""`somlier batch create` end to end: the DAG it renders (compiled and read with `ast`, as
Airflow would import it), what it refuses, and the DAGs repository flow into a real local
git repository (the default one under SOMLIER_HOME, and a bare repository of the test's)."""
import ast
import json
import subprocess
import unittest

from somlier_e2e import ServerProcess, SomlierTestCase, request_json


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
        self.git(seed, "add", "README")
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
        self.assertEqual(listed["dags"], [{"dag_id": "weekly.report",
                                           "path": "dags/weekly.report.py"}])
        out = self.somlier("offline", "list", "--output", "json", env=env)
        self.assertEqual(json.loads(out.stdout)["dags"][0]["dag_id"], "weekly.report")


if __name__ == "__main__":
    unittest.main()

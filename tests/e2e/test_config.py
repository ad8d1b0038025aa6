"""`somlier config show` and `somlier config run`, driven through the built binary."""
import datetime
import http.server
import json
import shutil
import signal
import threading
import time
import unittest

from somlier_e2e import SOURCE_DIR, SomlierTestCase, http_file_server

# The seed's example somlier.yaml (with its `entrypoint:` spelling), verbatim.
SEED_YAML = """
project:
  docker:
    env: []
    name: nuj-test
    tags:
    - latest
    volumes: []
  name: nuj-test
  python:
    requirements_txt: requirements.txt
    version: 3.8.7

model:
  assets: []
  config: {}
  name: nuj-test
  tags:
    - dev
  version: v0.0.1

entrypoint:
  main:
    command: bash
    args: ["entrypoint.sh"]
  test:
    command: python
    args: ["-m", "test"]
"""

BANNER = [
    "   _____       __  _____    _",
    "  / ___/____  /  |/  / /   (_)__  _____",
    "  \\__ \\/ __ \\/ /|_/ / /   / / _ \\/ ___/",
    " ___/ / /_/ / /  / / /___/ /  __/ /",
    "/____/\\____/_/  /_/_____/_/\\___/_/",
]

EXIT_INVALID, EXIT_NOT_FOUND, EXIT_UNIMPLEMENTED = 2, 3, 7


class ConfigShowTest(SomlierTestCase):
    def test_seed_example_prints_the_seed_summary(self):
        project = self.write("proj/somlier.yaml", SEED_YAML)
        result = self.somlier("config", "show", cwd=project.parent, check=0)
        self.assertEqual(result.stdout.splitlines(), BANNER + [
            "",
            f"SoMLier YAML: [{project}]",
            "Model Name: nuj-test",
            "Model Version: v0.0.1",
            "Model Tag: ['dev']",
            "Model Assets: []",
            "Python Version: 3.8.7",
            "Docker Image Name: nuj-test:['latest']",
        ])
        self.assertEqual(result.stderr, "")

    def test_dependencies_lists_requirement_entries(self):
        project = self.write("proj/somlier.yaml", SEED_YAML)
        self.write("proj/requirements.txt", """
            # pinned, as in the seed
            pandas==1.2.1
            numpy==1.1.1  # trailing comment
            scikit-learn[alldeps] >= 1.0, <2 ; python_version >= "3.8"
            --index-url https://mirror.example/simple
            torch \\
                ==2.0.1
            -r more.txt
            """)
        self.write("proj/more.txt", "requests\n")
        result = self.somlier("config", "show", "-d", cwd=project.parent, check=0)
        self.assertEqual(result.stdout.splitlines(), BANNER + [
            "",
            "-------- dependencies --------",
            "pandas=1.2.1",
            "numpy=1.1.1",
            "scikit-learn[alldeps]>=1.0,<2",
            "torch=2.0.1",
            "requests",
            "------------------------------",
        ])
        listed = json.loads(self.somlier("config", "show", "--dependencies", "--output", "json",
                                         cwd=project.parent, check=0).stdout)
        self.assertEqual([r["name"] for r in listed],
                         ["pandas", "numpy", "scikit-learn", "torch", "requests"])
        self.assertEqual(listed[2]["marker"], 'python_version >= "3.8"')

    def test_json_output_has_the_whole_spec(self):
        project = self.write("proj/somlier.yaml", SEED_YAML)
        spec = json.loads(self.somlier("config", "show", "--output", "json",
                                       cwd=project.parent, check=0).stdout)
        self.assertEqual(spec["file"], str(project))
        self.assertEqual(spec["model"]["version"], "v0.0.1")
        self.assertEqual(spec["project"]["docker"]["tags"], ["latest"])
        self.assertEqual(spec["entrypoints"]["test"]["argv"], ["python", "-m", "test"])
        self.assertEqual(spec["global"]["logging"]["format"], "json")

    def test_file_names_and_explicit_file(self):
        self.write("a/somlier.yml", "model: {name: from-yml, version: v1}\n")
        self.write("b/somlier", "model: {name: from-plain, version: v1}\n")
        other = self.write("c/elsewhere.yaml", "model: {name: from-f, version: v1}\n")
        self.assertIn("Model Name: from-yml",
                      self.somlier("config", "show", cwd=self.tmp / "a", check=0).stdout)
        self.assertIn("Model Name: from-plain",
                      self.somlier("config", "show", cwd=self.tmp / "b", check=0).stdout)
        self.assertIn("Model Name: from-f",
                      self.somlier("config", "show", "-f", str(other), check=0).stdout)

    def test_interpolation_in_any_scalar(self):
        project = self.write("proj/somlier.yaml", """
            project:
              docker: {name: "${IMAGE}", tags: ["${TAG:latest}"]}
              python: {version: "${PY_MAJOR:3}.${PY_MINOR:11}"}
            model:
              name: ${MODEL_NAME:default-model}
              version: v${VERSION}
              tags: ["${TEAM}-${STAGE:dev}"]
            """)
        env = dict(self.env, IMAGE="gcr.io/x/img", VERSION="1.2.3", TEAM="ml", PY_MINOR="")
        out = self.somlier("config", "show", cwd=project.parent, env=env, check=0).stdout
        self.assertIn("Model Name: default-model", out)
        self.assertIn("Model Version: v1.2.3", out)
        self.assertIn("Model Tag: ['ml-dev']", out)
        self.assertIn("Python Version: 3.", out)  # PY_MINOR is set (empty): it wins
        self.assertIn("Docker Image Name: gcr.io/x/img:['latest']", out)


class ConfigBadInputTest(SomlierTestCase):
    """Each bad input gets a non-zero exit and a message naming the key or value."""

    def show(self, yaml_text, *extra):
        self.write("proj/somlier.yaml", yaml_text)
        return self.somlier("config", "show", *extra, cwd=self.tmp / "proj")

    def test_missing_file(self):
        (self.tmp / "empty").mkdir()
        result = self.somlier("config", "show", cwd=self.tmp / "empty")
        self.assertFails(result, EXIT_NOT_FOUND, "somlier.yaml", "-f FILE")
        self.assertFails(self.somlier("config", "show", "-f", "nope.yaml"), EXIT_NOT_FOUND,
                         "nope.yaml")

    def test_yaml_syntax_error_has_line_and_column(self):
        result = self.show("model:\n  name: x\n  tags: [a, b\n")
        self.assertFails(result, EXIT_INVALID, "somlier.yaml:4:1", "YAML syntax error")

    def test_hostile_yaml_is_refused_quickly_without_a_crash(self):
        laughs = "l0: &l0 [x, x, x, x, x, x, x, x, x]\n" + "".join(
            f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]\n" for i in range(1, 9))
        cases = [
            ("a: &x\n  b: *x\n",
             ["alias '*x' at line 2 refers to its own enclosing node (a cycle)"]),
            (laughs, ["expands to more than 100000 nodes through aliases"]),
            ("model: " + "[" * 100000 + "]" * 100000 + "\n", ["nested deeper than 64 levels"]),
        ]
        for text, fragments in cases:
            with self.subTest(text=text[:40]):
                start = time.monotonic()
                result = self.show(text)
                self.assertFails(result, EXIT_INVALID, "somlier.yaml: ", *fragments)
                self.assertLess(time.monotonic() - start, 10)

    def test_hostile_settings_file_is_refused(self):
        config = self.write("home/config.yaml", "a: &x\n  b: *x\n")
        self.write("proj/somlier.yaml", SEED_YAML)
        result = self.somlier("config", "show", cwd=self.tmp / "proj",
                              env=dict(self.env, SOMLIER_CONFIG=str(config)))
        self.assertFails(result, EXIT_INVALID, f"{config}: alias '*x' at line 2", "a cycle")

    def test_version_must_start_with_v(self):
        self.assertFails(self.show("model: {version: 0.0.1}\n"), EXIT_INVALID,
                         "model.version", "'0.0.1'", "must start with 'v'")

    def test_empty_entrypoint_command(self):
        self.assertFails(self.show("entrypoints:\n  main: {command: '', args: []}\n"),
                         EXIT_INVALID, "entrypoints.main.command", "empty")

    def test_unknown_logging_format(self):
        self.assertFails(self.show("global: {logging: {format: xml}}\n"), EXIT_INVALID,
                         "global.logging.format", "'xml'", "json or text")

    def test_unset_variable_without_default(self):
        self.assertFails(self.show("model: {name: '${NOT_SET_ANYWHERE}'}\n"), EXIT_INVALID,
                         "model.name", "NOT_SET_ANYWHERE", "no default")

    def test_wrong_types_name_the_key(self):
        self.assertFails(self.show("model: {tags: dev}\n"), EXIT_INVALID, "model.tags",
                         "expected a list")
        self.assertFails(self.show("project: [a, b]\n"), EXIT_INVALID, "project",
                         "expected a mapping")
        self.assertFails(
            self.show("model:\n  assets:\n  - provider: ftp\n    files: {}\n"), EXIT_INVALID,
            "model.assets[0].provider", "'ftp'")
        self.assertFails(
            self.show("model:\n  assets:\n  - provider: http\n    files:\n"
                      "      w: {remote_uri: 'http://x/w', local_path: '../../etc/w'}\n"),
            EXIT_INVALID, "model.assets[0].files.w.local_path", "inside the assets directory")

    def test_bad_requirements_line(self):
        self.write("proj/requirements.txt", "numpy==1.24\npandas=>1.0\n")
        self.assertFails(self.show("model: {name: x}\n", "-d"), EXIT_INVALID,
                         "requirements.txt:2", "pandas=>1.0")
        self.write("proj/requirements.txt", "--no-such-option\n")
        self.assertFails(self.show("model: {name: x}\n", "-d"), EXIT_INVALID,
                         "requirements.txt:1", "unknown option")

    def test_missing_requirements_file(self):
        self.assertFails(self.show("project: {python: {requirements_txt: reqs/dev.txt}}\n", "-d"),
                         EXIT_NOT_FOUND, "reqs/dev.txt")

    def test_unknown_keys_are_warnings(self):
        result = self.show("modle: {name: typo}\nmodel: {name: ok, colour: blue}\n")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("unknown key 'modle'", result.stderr)
        self.assertIn("unknown key 'model.colour'", result.stderr)

    def test_usage_errors_exit_2(self):
        self.assertFails(self.somlier("config", "show", "--output", "xml"), 2, "xml")
        self.assertFails(self.somlier("config", "frobnicate"), 2)
        self.assertFails(self.somlier("config", "run"), 2, "entrypoint")


class ConfigRunTest(SomlierTestCase):
    def project(self, entrypoints, extra=""):
        return self.write("proj/somlier.yaml", extra + "entrypoints:\n" + entrypoints).parent

    def run_entrypoint(self, cwd, name, *extra, env=None, check=None):
        return self.somlier("config", "run", name, *extra, cwd=cwd, env=env, check=check)

    def test_json_lines_for_each_output_line(self):
        cwd = self.project("  main: {command: bash, args: [entrypoint.sh]}\n")
        self.write("proj/entrypoint.sh", """
            echo "hello world!!"
            echo 'to stderr' >&2
            printf 'no newline at the end'
            """)
        result = self.run_entrypoint(cwd, "main", check=0)
        lines = [json.loads(line) for line in result.stdout.splitlines()]
        self.assertEqual([l["stdout"] for l in lines], ["hello world!!\n", "no newline at the end"])
        for line in lines:
            self.assertEqual(list(line), ["name", "stdout", "timestamp"])
            self.assertEqual(line["name"], "main")
            datetime.datetime.fromisoformat(line["timestamp"])  # ISO 8601, parses
        self.assertIn('{"name": "main", "stdout": "hello world!!\\n", "timestamp": "',
                      result.stdout)
        err = [json.loads(l) for l in result.stderr.splitlines() if l.startswith("{")]
        self.assertEqual(err, [{"name": "main", "stderr": "to stderr\n",
                                "timestamp": err[0]["timestamp"]}])
        # The header lines and banner go to stderr, keeping stdout machine-readable.
        self.assertIn("Entrypoint: [main]", result.stderr)
        self.assertIn("Executing ['bash', 'entrypoint.sh']...", result.stderr)
        self.assertIn(BANNER[0], result.stderr)

    def test_text_format(self):
        cwd = self.project("  main: {command: echo, args: [hi there]}\n",
                           extra="global: {logging: {format: text}}\n")
        result = self.run_entrypoint(cwd, "main", check=0)
        name, stamp, text = result.stdout.rstrip("\n").split(" | ")
        self.assertEqual((name, text), ("main", "hi there"))
        datetime.datetime.fromisoformat(stamp)

    def test_exit_code_is_propagated(self):
        cwd = self.project("  fail: {command: sh, args: ['-c', 'echo bye; exit 7']}\n")
        result = self.run_entrypoint(cwd, "fail")
        self.assertEqual(result.returncode, 7)
        self.assertEqual(json.loads(result.stdout)["stdout"], "bye\n")

    def test_runs_in_project_directory_without_a_shell(self):
        cwd = self.project(
            "  main: {command: python3, args: [show.py, '$(touch pwned)', 'a b; ls', '*']}\n")
        self.write("proj/show.py", """
            import json, os, sys
            print(json.dumps({"cwd": os.getcwd(), "argv": sys.argv[1:]}))
            """)
        result = self.run_entrypoint(cwd, "main", "--", "--extra", "x", check=0)
        shown = json.loads(json.loads(result.stdout)["stdout"])
        self.assertEqual(shown["cwd"], str(cwd))
        self.assertEqual(shown["argv"], ["$(touch pwned)", "a b; ls", "*", "--extra", "x"])
        self.assertFalse((cwd / "pwned").exists())

    def test_python_command_uses_configured_interpreter(self):
        cwd = self.project("  main: {command: python, args: [-c, 'import sys; print(sys.executable)']}\n")
        fake = self.write("bin/mypython", "#!/bin/sh\necho \"fake python $*\"\n", mode=0o755)
        env = dict(self.env, SOMLIER_PYTHON=str(fake))
        result = self.run_entrypoint(cwd, "main", env=env, check=0)
        self.assertEqual(json.loads(result.stdout)["stdout"],
                         "fake python -c import sys; print(sys.executable)\n")

    def test_child_environment(self):
        cwd = self.project("  main: {command: python3, args: [env.py]}\n",
                           extra="global: {env: TEST}\nmodel: {name: m, version: v2, "
                                 "config: {depth: 3, rate: 0.5, on: true, label: '007'}}\n")
        self.write("proj/env.py", """
            import json, os
            keys = ["SOMLIER_ENV", "SOMLIER_MODEL_NAME", "SOMLIER_MODEL_VERSION",
                    "SOMLIER_MODEL_CONFIG", "SOMLIER_ASSETS_DIR", "PYTHONUNBUFFERED"]
            print(json.dumps({k: os.environ.get(k) for k in keys}))
            """)
        shown = json.loads(json.loads(self.run_entrypoint(cwd, "main", check=0).stdout)["stdout"])
        self.assertEqual(shown["SOMLIER_ENV"], "TEST")
        self.assertEqual(shown["SOMLIER_MODEL_NAME"], "m")
        self.assertEqual(shown["SOMLIER_MODEL_VERSION"], "v2")
        self.assertEqual(json.loads(shown["SOMLIER_MODEL_CONFIG"]),
                         {"depth": 3, "rate": 0.5, "on": True, "label": "007"})
        self.assertEqual(shown["SOMLIER_ASSETS_DIR"], str(cwd / "assets"))
        self.assertEqual(shown["PYTHONUNBUFFERED"], "1")

    def test_output_streams_as_it_is_printed(self):
        cwd = self.project("  slow: {command: python3, args: [slow.py]}\n")
        self.write("proj/slow.py", """
            import sys, time
            print("first")
            time.sleep(3)
            print("second")
            """)
        proc = self.start_somlier("config", "run", "slow", cwd=cwd)
        started = time.monotonic()
        first = json.loads(proc.stdout.readline())
        self.assertEqual(first["stdout"], "first\n")
        self.assertLess(time.monotonic() - started, 2.5)
        self.assertIsNone(proc.poll(), "the first line arrived while the child still ran")
        rest, _ = proc.communicate(timeout=30)
        self.assertEqual(json.loads(rest)["stdout"], "second\n")
        self.assertEqual(proc.returncode, 0)

    def _start_and_signal(self, script, sig):
        cwd = self.project("  main: {command: python3, args: [child.py]}\n")
        self.write("proj/child.py", script)
        proc = self.start_somlier("config", "run", "main", cwd=cwd)
        ready = json.loads(proc.stdout.readline())
        self.assertEqual(ready["stdout"], "ready\n")
        proc.send_signal(sig)  # to somlier only, not to the child's process group
        out, err = proc.communicate(timeout=30)
        return proc.returncode, out, err

    def test_sigint_is_forwarded_and_child_exit_code_returned(self):
        code, out, _ = self._start_and_signal("""
            import signal, sys, time
            def on_int(*_):
                print("child got SIGINT")
                sys.exit(42)
            signal.signal(signal.SIGINT, on_int)
            print("ready")
            time.sleep(60)
            """, signal.SIGINT)
        self.assertEqual(code, 42)
        self.assertEqual(json.loads(out)["stdout"], "child got SIGINT\n")

    def test_sigterm_is_forwarded(self):
        code, _, _ = self._start_and_signal("""
            import time
            print("ready")
            time.sleep(60)
            """, signal.SIGTERM)
        self.assertEqual(code, 128 + signal.SIGTERM)

    def test_unknown_entrypoint_lists_defined_ones(self):
        cwd = self.project("  main: {command: echo}\n  train: {command: echo}\n")
        self.assertFails(self.run_entrypoint(cwd, "serve"), EXIT_NOT_FOUND, "'serve'",
                         "main, train")

    def test_command_that_does_not_exist(self):
        cwd = self.project("  main: {command: no-such-program-xyz}\n")
        self.assertFails(self.run_entrypoint(cwd, "main"), EXIT_NOT_FOUND,
                         "no-such-program-xyz")


class ConfigRunAssetsTest(SomlierTestCase):
    def test_fetches_http_and_local_assets_before_running(self):
        self.write("served/weights.bin", "W" * 100000)
        self.write("local/vocab.txt", "a b c\n")
        with http_file_server(self.tmp / "served") as base:
            cwd = self.write("proj/somlier.yaml", f"""
                model:
                  assets:
                  - provider: http
                    files:
                      weights: {{remote_uri: "{base}/weights.bin", local_path: model/w.bin}}
                  - provider: local
                    files:
                      vocab: {{remote_uri: "file://{self.tmp}/local/vocab.txt"}}
                entrypoints:
                  main: {{command: sh, args: [-c, 'wc -c < assets/model/w.bin; cat assets/vocab']}}
                """).parent
            result = self.somlier("config", "run", "main", cwd=cwd, check=0)
        out = [json.loads(l)["stdout"] for l in result.stdout.splitlines()]
        self.assertEqual(out, ["100000\n", "a b c\n"])
        self.assertIn("Fetching asset 'weights'", result.stderr)

    def test_missing_asset_fails_before_running_and_leaves_no_partial_file(self):
        self.write("served/other.bin", "x")
        with http_file_server(self.tmp / "served") as base:
            cwd = self.write("proj/somlier.yaml", f"""
                model:
                  assets:
                  - provider: http
                    files:
                      weights: {{remote_uri: "{base}/missing.bin"}}
                entrypoints:
                  main: {{command: touch, args: [ran]}}
                """).parent
            result = self.somlier("config", "run", "main", cwd=cwd)
        self.assertFails(result, EXIT_NOT_FOUND, "weights", "404")
        self.assertFalse((cwd / "ran").exists())
        self.assertEqual(list((cwd / "assets").iterdir()) if (cwd / "assets").exists() else [], [])

    def test_test_env_skips_assets(self):
        cwd = self.write("proj/somlier.yaml", """
            global: {env: TEST}
            model:
              assets:
              - provider: gcs
                files:
                  w: {remote_uri: "gs://bucket/w.bin"}
            entrypoints:
              main: {command: echo, args: [ok]}
            """).parent
        self.somlier("config", "run", "main", cwd=cwd, check=0)
        self.assertFalse((cwd / "assets").exists())

    def test_gcs_assets_come_through_the_json_api(self):
        requests = []

        class FakeGcs(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                requests.append(self.path)
                found = self.path == "/storage/v1/b/bucket/o/dir%2Fw.bin?alt=media"
                body = b"gcs-weights" if found else b"{}"
                self.send_response(200 if found else 404)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeGcs)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        env = dict(self.env, STORAGE_EMULATOR_HOST=f"127.0.0.1:{server.server_address[1]}")
        cwd = self.write("proj/somlier.yaml", """
            model:
              assets:
              - provider: gcs
                files:
                  w: {remote_uri: "gs://bucket/dir/w.bin"}
            entrypoints:
              main: {command: cat, args: [assets/w]}
            """).parent
        result = self.somlier("config", "run", "main", cwd=cwd, env=env, check=0)
        self.assertIn("gcs-weights", result.stdout)
        cwd = self.write("proj2/somlier.yaml", """
            model:
              assets:
              - provider: gcs
                files:
                  w: {remote_uri: "gs://bucket/missing.bin"}
            entrypoints:
              main: {command: echo, args: [ok]}
            """).parent
        self.assertFails(self.somlier("config", "run", "main", cwd=cwd, env=env), EXIT_NOT_FOUND,
                         "gs://bucket/missing.bin")


class ExampleProjectTest(SomlierTestCase):
    def test_hello_example_runs(self):
        example = self.tmp / "hello"
        shutil.copytree(SOURCE_DIR / "examples" / "hello", example,
                        ignore=shutil.ignore_patterns("assets"))
        show = self.somlier("config", "show", cwd=example, check=0)
        self.assertIn("Model Name: hello-somlier", show.stdout)
        result = self.somlier("config", "run", "main", cwd=example, check=0)
        self.assertEqual([json.loads(l)["stdout"] for l in result.stdout.splitlines()],
                         ["hello world!!\n", "hello world!!\n"])


if __name__ == "__main__":
    unittest.main()

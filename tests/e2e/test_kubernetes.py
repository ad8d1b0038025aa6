"""`somlier kubernetes init` end to end: the built binary drives the real `kubectl` against a
FAKE Kubernetes API server (tests/e2e/fake_kube_apiserver.py — no real one can run here)."""
import base64
import json
import os
import pathlib
import subprocess
import unittest

from fake_kube_apiserver import FakeKubeApiServer
from somlier_e2e import SomlierTestCase

TOKEN = "tok-" + "9" * 40


class KubernetesInitTest(SomlierTestCase):
    def setUp(self):
        super().setUp()
        self.api = FakeKubeApiServer().__enter__()
        self.addCleanup(self.api.__exit__, None, None, None)
        # kubectl through a wrapper that records each argv, to show no token is ever in one.
        self.argv_log = self.tmp / "kubectl-argv.log"
        wrapper = self.tmp / "kubectl-wrapper"
        wrapper.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{self.argv_log}"\n'
                           'exec kubectl "$@"\n')
        wrapper.chmod(0o755)
        self.kube_env = dict(self.env, KUBECONFIG=self.api.kubeconfig(self.tmp),
                             HOME=str(self.tmp), SOMLIER_KUBECTL=str(wrapper),
                             SOMLIER_K8S_NAMESPACE="ml-team", SOMLIER_TOKEN=TOKEN)

    def init(self, *args, env=None):
        return subprocess.run([os.environ["SOMLIER_BIN"], "kubernetes", "init", *args],
                              env=env or self.kube_env, capture_output=True, text=True,
                              timeout=120)

    def test_init_creates_the_namespace_and_the_token_secret_once(self):
        out = self.init("--output", "json")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(json.loads(out.stdout), {"namespace": "ml-team",
                                                  "namespace_created": True,
                                                  "secret": "somlier-token", "key": "token"})
        self.assertEqual([n["metadata"]["name"] for n in self.api.objects("namespaces")],
                         ["ml-team"])
        [secret] = self.api.objects("secrets", "ml-team")
        self.assertEqual(secret["metadata"]["name"], "somlier-token")
        self.assertEqual(secret["metadata"]["labels"]["app.kubernetes.io/managed-by"], "somlier")
        self.assertEqual(base64.b64decode(secret["data"]["token"]).decode(), TOKEN)
        # The token went to kubectl on stdin only: never in an argv, never printed.
        argv = self.argv_log.read_text()
        # The Secret first; its namespace was missing, so the namespace, then the Secret again.
        self.assertEqual(argv.splitlines(), ["--namespace=ml-team create -f - -o name"] * 3)
        self.assertNotIn(TOKEN, argv)
        self.assertNotIn(base64.b64encode(TOKEN.encode()).decode(), argv)
        self.assertNotIn(TOKEN, out.stdout + out.stderr)

        again = self.init()
        self.assertEqual(again.returncode, 4, again.stderr)
        self.assertIn("the Secret 'somlier-token' already exists in namespace 'ml-team'",
                      again.stderr)
        self.assertEqual(len(self.api.objects("secrets", "ml-team")), 1)

    def test_an_existing_namespace_is_used_and_settings_come_from_the_config_file(self):
        self.assertEqual(self.init().returncode, 0)
        self.api.store.pop(("secrets", "ml-team", "somlier-token"))
        # A user whose rights stop at their namespace may not create namespaces: not needed.
        self.api.forbid("namespaces")
        config = self.tmp / "config.yaml"
        config.write_text("kubernetes:\n  namespace: ml-team\n  token_secret: tracking-token\n")
        env = dict(self.kube_env, SOMLIER_CONFIG=str(config))
        del env["SOMLIER_K8S_NAMESPACE"]
        out = self.init(env=env)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout.strip(),
                         "created Secret tracking-token (key: token) in namespace ml-team")

    def test_errors_say_what_was_being_done_with_kubectls_own_words(self):
        no_token = dict(self.kube_env)
        del no_token["SOMLIER_TOKEN"]
        out = self.init(env=no_token)
        self.assertEqual(out.returncode, 5, out.stderr)
        self.assertIn("set SOMLIER_TOKEN", out.stderr)
        self.assertEqual(self.api.objects("namespaces"), [])

        self.api.forbid("secrets")
        out = self.init()
        self.assertEqual(out.returncode, 6, out.stderr)
        self.assertIn("creating the token Secret 'somlier-token' in namespace 'ml-team': kubectl "
                      "failed (exit 1): Error from server (Forbidden)", out.stderr)
        self.assertIn('User "fake" cannot create resource "secrets"', out.stderr)

        bad = self.init(env=dict(self.kube_env, SOMLIER_K8S_NAMESPACE="ML Team"))
        self.assertEqual(bad.returncode, 2, bad.stderr)
        self.assertIn("SOMLIER_K8S_NAMESPACE 'ML Team' is not a valid Kubernetes name",
                      bad.stderr)

        missing = self.init(env=dict(self.kube_env, SOMLIER_KUBECTL="/nonexistent/kubectl"))
        self.assertEqual(missing.returncode, 3, missing.stderr)
        self.assertIn("install kubectl or set SOMLIER_KUBECTL", missing.stderr)

    def test_an_unreachable_cluster_is_reported_not_hung(self):
        kubeconfig = pathlib.Path(self.api.kubeconfig(self.tmp))
        config = json.loads(kubeconfig.read_text())
        config["clusters"][0]["cluster"]["server"] = "https://127.0.0.1:1"
        kubeconfig.write_text(json.dumps(config))
        out = self.init()
        self.assertEqual(out.returncode, 6, out.stderr)
        self.assertIn("creating the token Secret 'somlier-token' in namespace 'ml-team': kubectl "
                      "failed", out.stderr)
        self.assertIn("connection refused", out.stderr)


if __name__ == "__main__":
    unittest.main()

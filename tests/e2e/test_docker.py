"""docker/Dockerfile, checked without a Docker engine (none runs here): every COPY source of
the build context exists, the runtime stage puts the Python package where the binary looks
for it, and the image's command is a real `somlier` command whose options exist."""
import json
import os
import pathlib
import re
import shutil
import subprocess
import tempfile
import unittest

from somlier_e2e import SOURCE_DIR

DOCKERFILE = SOURCE_DIR / "docker" / "Dockerfile"


def instructions(text):
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", "\n".join(
        line for line in text.splitlines() if not line.lstrip().startswith("#")))
    for line in joined.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            yield word.upper(), rest.strip()


class DockerfileTest(unittest.TestCase):
    def setUp(self):
        self.steps = list(instructions(DOCKERFILE.read_text()))

    def test_every_copy_source_of_the_context_exists(self):
        copies = [args for word, args in self.steps if word == "COPY"]
        self.assertTrue(copies)
        for args in copies:
            if args.startswith("--from="):
                continue  # from an earlier stage, not the context
            *sources, _ = args.split()
            for source in sources:
                self.assertTrue(list(SOURCE_DIR.glob(source)),
                                f"COPY {source}: no such file in the repository")

    def test_the_package_lands_where_the_binary_looks_for_it(self):
        copies = dict(reversed(args.split()[-2:]) for word, args in self.steps
                      if word == "COPY" and not args.startswith("--from="))
        self.assertEqual(copies.get("/usr/local/share/somlier/python"), "python")
        self.assertIn("/usr/local/bin/somlier",
                      [args.split()[-1] for word, args in self.steps if word == "COPY"])
        # The binary's own search path (core/install_paths.cc) has <bin>/../share/somlier/python.
        with tempfile.TemporaryDirectory() as tmp:
            root = pathlib.Path(tmp)
            (root / "bin").mkdir()
            shutil.copy(os.environ["SOMLIER_BIN"], root / "bin" / "somlier")
            shutil.copytree(SOURCE_DIR / "python" / "somlier",
                            root / "share" / "somlier" / "python" / "somlier")
            out = subprocess.run([str(root / "bin" / "somlier"), "python-path"],
                                 capture_output=True, text=True, timeout=30)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertEqual(out.stdout.strip(), str(root / "share" / "somlier" / "python"))

    def test_the_image_runs_a_real_somlier_command(self):
        entrypoint = json.loads(next(args for word, args in self.steps if word == "ENTRYPOINT"))
        command = json.loads(next(args for word, args in self.steps if word == "CMD"))
        self.assertEqual(entrypoint, ["somlier"])
        help_text = subprocess.run([os.environ["SOMLIER_BIN"], command[0], "--help"],
                                   capture_output=True, text=True, timeout=30)
        self.assertEqual(help_text.returncode, 0, help_text.stderr)
        for option in (arg for arg in command[1:] if arg.startswith("--")):
            self.assertIn(option, help_text.stdout, f"`somlier {command[0]}` has no {option}")

    def test_the_runtime_stage_installs_the_libraries_the_binary_links(self):
        installs = " ".join(args for word, args in self.steps if word == "RUN")
        linked = subprocess.run(["ldd", os.environ["SOMLIER_BIN"]], capture_output=True,
                                text=True, timeout=30).stdout
        # The Debian runtime package of each library the binary links directly.
        for library, package in [("libpq.so", "libpq5"), ("libsqlite3.so", "libsqlite3-0"),
                                 ("libyaml-cpp.so", "libyaml-cpp0.7"), ("libfmt.so", "libfmt9"),
                                 ("libcpp-httplib.so", "libcpp-httplib0.11"),
                                 ("libsimdjson.so", "libsimdjson14"), ("libssl.so", "libssl3")]:
            if library in linked:
                self.assertIn(package, installs, f"the binary links {library}")


if __name__ == "__main__":
    unittest.main()

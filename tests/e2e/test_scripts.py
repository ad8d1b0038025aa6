"""The README's scripts: set-up options are explicit, whatever ran before in a directory."""
import pathlib
import re
import shutil
import subprocess
import tempfile
import unittest

from somlier_e2e import SOURCE_DIR

SETUP = str(SOURCE_DIR / "scripts" / "setup.sh")


def ctest_total(build_dir):
    """How many tests `ctest -N` lists in build_dir."""
    out = subprocess.run(["ctest", "-N"], cwd=build_dir, capture_output=True, text=True,
                         timeout=120)
    match = re.search(r"Total Tests: (\d+)", out.stdout)
    if match is None:
        raise AssertionError(f"ctest -N printed no total:\n{out.stdout}\n{out.stderr}")
    return int(match.group(1))


def cache_value(build_dir, name):
    text = (pathlib.Path(build_dir) / "CMakeCache.txt").read_text()
    match = re.search(rf"^{name}:[A-Z]+=(.*)$", text, re.M)
    return match.group(1) if match else None


class SetupScriptTest(unittest.TestCase):
    def setUp(self):
        self.build = tempfile.mkdtemp(prefix="somlier-setup-")
        self.addCleanup(shutil.rmtree, self.build, ignore_errors=True)

    def setup_sh(self, *args):
        result = subprocess.run([SETUP, "--configure-only", "--build-dir", self.build, *args],
                                capture_output=True, text=True, timeout=300)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        return result

    def test_tests_come_back_after_a_configure_without_them(self):
        self.setup_sh()
        self.assertEqual(cache_value(self.build, "SOMLIER_BUILD_TESTS"), "OFF")
        self.assertEqual(ctest_total(self.build), 0)

        out = self.setup_sh("--tests")
        self.assertIn("tests ON", out.stdout)
        self.assertEqual(cache_value(self.build, "SOMLIER_BUILD_TESTS"), "ON")
        self.assertEqual(cache_value(self.build, "SOMLIER_BUILD_BENCH"), "ON")
        self.assertGreater(ctest_total(self.build), 10)
        # --configure-only builds nothing.
        self.assertFalse((pathlib.Path(self.build) / "somlier").exists())

        # And off again: the earlier ON does not stick either.
        self.setup_sh()
        self.assertEqual(cache_value(self.build, "SOMLIER_BUILD_TESTS"), "OFF")
        self.assertEqual(ctest_total(self.build), 0)

    def test_sanitize_build_type_is_set_and_unset_explicitly(self):
        self.setup_sh("--tests", "--sanitize")
        self.assertEqual(cache_value(self.build, "CMAKE_BUILD_TYPE"), "Sanitize")
        self.assertEqual(cache_value(self.build, "SOMLIER_SANITIZE"), "ON")
        self.assertEqual(cache_value(self.build, "SOMLIER_BUILD_BENCH"), "OFF")
        self.setup_sh("--tests")
        self.assertEqual(cache_value(self.build, "CMAKE_BUILD_TYPE"), "Release")
        self.assertEqual(cache_value(self.build, "SOMLIER_SANITIZE"), "OFF")

    def test_unknown_option_is_refused_and_names_it(self):
        result = subprocess.run([SETUP, "--configure-only", "--bogus"], capture_output=True,
                                text=True, timeout=60)
        self.assertEqual(result.returncode, 2)
        self.assertIn("'--bogus'", result.stderr)


if __name__ == "__main__":
    unittest.main()

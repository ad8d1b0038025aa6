"""The source checks scripts/test.sh runs before the builds: scripts/check_layers.py and
scripts/check_format.sh, each on a small tree of its own in a temporary directory (they
pass on a clean one and fail, naming the culprit, on a violation). Needs no build product:
CTest runs this module with the `unit` label."""
import pathlib
import shutil
import subprocess
import sys
import tempfile
import textwrap
import unittest

from somlier_e2e import SOURCE_DIR

CHECK_LAYERS = str(SOURCE_DIR / "scripts" / "check_layers.py")
CHECK_FORMAT = str(SOURCE_DIR / "scripts" / "check_format.sh")

# Three layers: core at the bottom, store (two directories) on it, api on store.
FAKE_CMAKELISTS = """
cmake_minimum_required(VERSION 3.25)
project(fake LANGUAGES CXX)
function(somlier_module name)
  cmake_parse_arguments(M "" "" "DIRS;DEPS" ${ARGN})
endfunction()

somlier_module(core DIRS core DEPS fmt::fmt Threads::Threads)
# somlier_module(ghost DIRS ghost DEPS somlier_api)  (commented out: not a module)
somlier_module(store DIRS store store/sqlite
               DEPS somlier_core PkgConfig::SQLITE3)  # links core, not somlier_api
somlier_module(api DIRS api
               DEPS somlier_store nlohmann_json::nlohmann_json)
"""

FAKE_SOURCES = {
    "src/somlier/core/status.h": """
        #pragma once
        namespace somlier {
        struct Status {};
        }  // namespace somlier
        """,
    "src/somlier/core/status.cc": """
        #include "somlier/core/status.h"

        #include <string>
        """,
    "src/somlier/core/status_test.cc": """
        #include "somlier/core/status.h"
        #include "temp_dir.h"
        """,
    "src/somlier/store/store.h": """
        #pragma once
        #include "somlier/core/status.h"
        """,
    "src/somlier/store/sqlite/sqlite_store.h": """
        #pragma once
        #include "somlier/store/store.h"
        """,
    "src/somlier/store/sqlite/sqlite_store.cc": """
        #include "somlier/store/sqlite/sqlite_store.h"
        #include "somlier/core/status.h"
        """,
    "src/somlier/api/server.h": """
        #pragma once
        #include "somlier/store/sqlite/sqlite_store.h"
        """,
    "src/somlier/api/server.cc": """
        #include "somlier/api/server.h"
        // api reaches core through store.
        #include "somlier/core/status.h"
        """,
}

WELL_FORMATTED = """\
#include <string>

namespace somlier {

int Add(int a, int b) { return a + b; }

}  // namespace somlier
"""
BADLY_FORMATTED = """\
#include <string>
namespace somlier{
int  Add( int a,int b ){return a+b;}
}
"""


class ChecksTestCase(unittest.TestCase):
    def setUp(self):
        self.root = pathlib.Path(tempfile.mkdtemp(prefix="somlier-checks-"))
        self.addCleanup(shutil.rmtree, self.root, ignore_errors=True)

    def write(self, relative, text):
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
        return path

    def run_script(self, *command):
        return subprocess.run(list(command), capture_output=True, text=True, timeout=120)


class CheckLayersTest(ChecksTestCase):
    def setUp(self):
        super().setUp()
        self.write("CMakeLists.txt", FAKE_CMAKELISTS)
        for path, text in FAKE_SOURCES.items():
            self.write(path, text)

    def check_layers(self, *args):
        return self.run_script(sys.executable, CHECK_LAYERS, "--root", str(self.root), *args)

    def assert_fails_with(self, result, *expected):
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        for text in expected:
            self.assertIn(text, result.stdout)
        self.assertIn("check_layers: FAILED:", result.stdout.splitlines()[-1])

    def test_clean_tree_passes(self):
        result = self.check_layers()
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertEqual(
            result.stdout,
            "check_layers: ok: 8 files, 9 somlier includes checked against 3 modules\n")

    def test_upward_include_fails_naming_file_line_and_modules(self):
        self.write("src/somlier/core/status.cc", """
            #include "somlier/core/status.h"

            #include "somlier/api/server.h"
            """)
        result = self.check_layers()
        self.assert_fails_with(
            result,
            "src/somlier/core/status.cc:3: module 'core' includes somlier/api/server.h from "
            "module 'api', which core does not depend on (allowed: core)\n",
            "check_layers: FAILED: 1 problem (8 files")

    def test_test_files_and_second_directories_belong_to_their_module(self):
        # store/sqlite is the store module; its test may not reach api either.
        self.write("src/somlier/store/sqlite/sqlite_store_test.cc", """
            #include "somlier/store/sqlite/sqlite_store.h"
            #include "somlier/api/server.h"
            """)
        result = self.check_layers()
        self.assert_fails_with(
            result,
            "src/somlier/store/sqlite/sqlite_store_test.cc:2: module 'store' includes "
            "somlier/api/server.h from module 'api', which store does not depend on "
            "(allowed: core, store)\n")

    def test_sideways_include_of_a_module_not_linked_fails(self):
        self.write("CMakeLists.txt", FAKE_CMAKELISTS
                   + "somlier_module(net DIRS net DEPS somlier_core)\n")
        self.write("src/somlier/net/http.h", '#include "somlier/core/status.h"\n')
        self.write("src/somlier/api/routes.cc", '#include "somlier/net/http.h"\n')
        result = self.check_layers()
        self.assert_fails_with(
            result,
            "src/somlier/api/routes.cc:1: module 'api' includes somlier/net/http.h from "
            "module 'net', which api does not depend on (allowed: core, store, api)\n")

    def test_unclaimed_directory_fails(self):
        self.write("src/somlier/extra/thing.cc", '#include "somlier/core/status.h"\n')
        self.write("src/somlier/extra/thing.h", "#pragma once\n")
        result = self.check_layers()
        self.assert_fails_with(result, "src/somlier/extra", "claimed by no module")
        # Once for the directory, however many files it has.
        self.assertEqual(result.stdout.count("claimed by no module"), 1, result.stdout)

    def test_include_of_a_missing_header_fails(self):
        self.write("src/somlier/api/server.cc", """
            #include "somlier/api/server.h"
            #include "somlier/store/gone.h"
            """)
        result = self.check_layers()
        self.assert_fails_with(
            result,
            "src/somlier/api/server.cc:2: module 'api' includes somlier/store/gone.h, which "
            "does not exist")

    def test_dirs_entry_that_does_not_exist_fails(self):
        shutil.rmtree(self.root / "src/somlier/store/sqlite")
        self.write("src/somlier/api/server.h", '#include "somlier/store/store.h"\n')
        result = self.check_layers()
        self.assert_fails_with(result, "module 'store' lists DIRS store/sqlite")

    def test_dependency_on_an_unknown_module_is_an_error(self):
        self.write("CMakeLists.txt", FAKE_CMAKELISTS.replace("somlier_store", "somlier_stor"))
        result = self.check_layers()
        self.assertEqual(result.returncode, 2, result.stdout + result.stderr)
        self.assertIn("somlier_stor, which is not a somlier_module", result.stderr)

    def test_print_edges(self):
        result = self.check_layers("--print-edges")
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        lines = result.stdout.splitlines()
        self.assertEqual(lines[1:], [
            "core  -> (none)  [core]",
            "store -> core  [core, store]",
            "api   -> store  [core, store, api]",
        ])


    def test_the_architecture_documents_edges_must_match_the_build(self):
        edges = self.check_layers("--print-edges").stdout
        begin = "<!-- layer-edges: the output of scripts/check_layers.py --print-edges -->"
        self.write("docs/architecture.md",
                   f"# Architecture\n\n{begin}\n```\n{edges}```\n<!-- /layer-edges -->\n")
        result = self.check_layers()
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        # The build gains an edge the document does not show: the check fails.
        cmake = self.root / "CMakeLists.txt"
        cmake.write_text(cmake.read_text().replace("DEPS somlier_store nlohmann",
                                                   "DEPS somlier_store somlier_core nlohmann"))
        self.assert_fails_with(self.check_layers(),
                               "docs/architecture.md: its table of layer edges differs")
        # A document without the table fails too.
        self.write("docs/architecture.md", "# Architecture\n")
        self.assert_fails_with(self.check_layers(), "no table of layer edges")


class CheckFormatTest(ChecksTestCase):
    def setUp(self):
        super().setUp()
        shutil.copy(SOURCE_DIR / ".clang-format", self.root / ".clang-format")
        self.write("src/somlier/core/good.cc", WELL_FORMATTED)
        self.write("fuzz/good_fuzz.h", WELL_FORMATTED)

    def check_format(self, *args):
        return self.run_script(CHECK_FORMAT, "--root", str(self.root), *args)

    def test_well_formatted_tree_passes(self):
        result = self.check_format()
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertEqual(result.stdout, "check_format: ok: 2 files formatted (clang-format-14)\n")

    def test_badly_formatted_file_is_reported(self):
        self.write("bench/bad.cc", BADLY_FORMATTED)
        self.write("bench/notes.txt", BADLY_FORMATTED)  # not C++: not checked
        result = self.check_format()
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        self.assertIn("check_format: FAILED: 1 file of 3 not formatted", result.stdout)
        self.assertIn("\n  bench/bad.cc\n", result.stdout)
        self.assertNotIn("good", result.stdout)

    def test_fix_formats_in_place(self):
        bad = self.write("src/somlier/core/bad.h", BADLY_FORMATTED)
        result = self.check_format("--fix")
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("  src/somlier/core/bad.h\n", result.stdout)
        self.assertNotEqual(bad.read_text(), BADLY_FORMATTED)
        self.assertEqual(self.check_format().returncode, 0)

    def test_file_list(self):
        bad = self.write("elsewhere/bad.cc", BADLY_FORMATTED)
        good = self.root / "src/somlier/core/good.cc"
        result = self.run_script(CHECK_FORMAT, str(good), str(bad))
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        self.assertIn(f"  {bad}\n", result.stdout)
        self.assertEqual(self.run_script(CHECK_FORMAT, str(good)).returncode, 0)

    def test_missing_file_is_an_error(self):
        result = self.run_script(CHECK_FORMAT, str(self.root / "nothere.cc"))
        self.assertEqual(result.returncode, 2, result.stdout + result.stderr)
        self.assertIn("nothere.cc", result.stderr)


if __name__ == "__main__":
    unittest.main()

// The replay driver: a `main` for the fuzz targets when they are built without libFuzzer
// (GCC, the release and sanitizer builds). It runs every file named on the command line,
// and every regular file under every directory named there (recursively, in name order),
// through LLVMFuzzerTestOneInput once, then prints how many it ran.
//
//   fuzz_<target> PATH...
//
// A crash (a sanitizer report, an abort, an uncaught exception) ends the process with the
// name of the file being run printed just before; otherwise the exit status is 0. A path
// that does not exist is an error (exit 2), so that a misnamed corpus never passes by
// replaying nothing.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

namespace fs = std::filesystem;

std::vector<fs::path> InputsUnder(const fs::path& root) {
  std::vector<fs::path> files;
  if (fs::is_directory(root)) {
    for (const auto& entry : fs::recursive_directory_iterator(root)) {
      if (entry.is_regular_file()) files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
  } else {
    files.push_back(root);
  }
  return files;
}

bool RunOne(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "replay: cannot read %s\n", file.c_str());
    return false;
  }
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // An exactly sized heap copy, so that AddressSanitizer catches a read past the end.
  std::unique_ptr<uint8_t[]> copy(new uint8_t[bytes.size()]);
  std::copy(bytes.begin(), bytes.end(), copy.get());
  std::printf("replay: %s (%zu bytes)\n", file.c_str(), bytes.size());
  std::fflush(stdout);
  LLVMFuzzerTestOneInput(copy.get(), bytes.size());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s FILE_OR_DIRECTORY...\n", argv[0]);
    return 2;
  }
  size_t ran = 0;
  for (int i = 1; i < argc; ++i) {
    const fs::path root = argv[i];
    std::error_code ec;
    if (!fs::exists(root, ec)) {
      std::fprintf(stderr, "replay: %s does not exist\n", argv[i]);
      return 2;
    }
    for (const fs::path& file : InputsUnder(root)) {
      if (!RunOne(file)) return 2;
      ++ran;
    }
  }
  std::printf("replay: ran %zu inputs through %s without a crash\n", ran, argv[0]);
  return 0;
}

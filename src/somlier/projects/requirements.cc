#include "somlier/projects/requirements.h"

#include <fmt/core.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <set>

#include "somlier/core/strings.h"

namespace somlier {
namespace {

namespace fs = std::filesystem;

bool IsNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
}

bool IsVersionChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '*' ||
         c == '+' || c == '!' || c == '-';
}

bool IsDirectReference(std::string_view text) {
  for (std::string_view prefix :
       {"http://", "https://", "git+", "hg+", "svn+", "bzr+", "file:", "./", "../", "/"}) {
    if (text.starts_with(prefix)) return true;
  }
  for (std::string_view suffix : {".whl", ".tar.gz", ".zip", ".tar.bz2"}) {
    if (text.ends_with(suffix)) return true;
  }
  return false;
}

// pip options that take a value, and those that do not; they configure pip, they are not
// requirements.
bool IsOptionWithValue(std::string_view o) {
  for (std::string_view known :
       {"-i", "--index-url", "--extra-index-url", "-f", "--find-links", "--trusted-host",
        "--no-binary", "--only-binary", "--use-feature", "-c", "--constraint"}) {
    if (o == known) return true;
  }
  return false;
}
bool IsFlagOption(std::string_view o) {
  for (std::string_view known : {"--pre", "--prefer-binary", "--require-hashes", "--no-index"}) {
    if (o == known) return true;
  }
  return false;
}

// Bounds on what a project's requirements may make SoMLier read.
constexpr size_t kMaxIncludeDepth = 16;
constexpr uintmax_t kMaxFileBytes = 1 << 20;

class Parser {
 public:
  Result<std::vector<Requirement>> ParseFile(const fs::path& path) {
    std::error_code ec;
    const fs::path canonical = fs::weakly_canonical(path, ec);
    if (!fs::is_regular_file(path, ec)) {
      return NotFound(fmt::format("requirements file '{}' does not exist", path.string()));
    }
    if (open_.count(canonical.string()) != 0) {
      return InvalidArgument(
          fmt::format("requirements file '{}' includes itself (through -r)", path.string()));
    }
    if (open_.size() >= kMaxIncludeDepth) {
      return InvalidArgument(
          fmt::format("requirements file '{}' is included more than {} levels deep (through -r)",
                      path.string(), kMaxIncludeDepth));
    }
    if (const auto size = fs::file_size(path, ec); !ec && size > kMaxFileBytes) {
      return InvalidArgument(fmt::format("requirements file '{}' has {} bytes; at most {} are read",
                                         path.string(), size, kMaxFileBytes));
    }
    open_.insert(canonical.string());
    std::ifstream in(path);
    std::string physical;
    std::string logical;
    int line_no = 0;
    int start_line = 0;
    while (std::getline(in, physical)) {
      ++line_no;
      if (!physical.empty() && physical.back() == '\r') physical.pop_back();
      if (logical.empty()) start_line = line_no;
      if (FindInvalidUtf8(physical) != std::string::npos) {
        open_.erase(canonical.string());
        return InvalidArgument(
            fmt::format("{}:{}: not valid UTF-8; save the file as UTF-8", path.string(), line_no));
      }
      if (!physical.empty() && physical.back() == '\\') {
        physical.pop_back();
        logical += physical;
        continue;
      }
      logical += physical;
      SOMLIER_RETURN_IF_ERROR(ParseLine(path, start_line, logical));
      logical.clear();
    }
    if (!logical.empty()) SOMLIER_RETURN_IF_ERROR(ParseLine(path, start_line, logical));
    open_.erase(canonical.string());
    return out_;
  }

 private:
  Status Bad(const fs::path& file, int line, std::string_view text, std::string_view why) {
    return InvalidArgument(
        fmt::format("{}:{}: cannot parse requirement '{}': {}", file.string(), line, text, why));
  }

  Status ParseLine(const fs::path& file, int line, std::string text) {
    // A comment starts at '#' at the line's start or after whitespace.
    for (size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '#' && (i == 0 || std::isspace(static_cast<unsigned char>(text[i - 1])))) {
        text.resize(i);
        break;
      }
    }
    const std::string line_text(Trim(text));
    if (line_text.empty()) return OkStatus();

    Requirement req;
    req.file = file.string();
    req.line = line;
    if (line_text[0] == '-') return ParseOption(file, line, line_text, req);
    if (IsDirectReference(line_text)) {
      req.url = line_text;
      out_.push_back(std::move(req));
      return OkStatus();
    }
    return ParseSpecifier(file, line, line_text, req);
  }

  Status ParseOption(const fs::path& file, int line, const std::string& text, Requirement& req) {
    std::string option;
    std::string value;
    const size_t end = text.find_first_of(" \t=");
    option = text.substr(0, end);
    if (end != std::string::npos) value = std::string(Trim(text.substr(end + 1)));
    if (option.size() > 2 && option[1] != '-' && value.empty()) {  // "-rfile.txt"
      value = option.substr(2);
      option = option.substr(0, 2);
    }
    if (option == "-r" || option == "--requirement") {
      if (value.empty()) return Bad(file, line, text, "-r needs a file name");
      const fs::path included =
          fs::path(value).is_absolute() ? fs::path(value) : file.parent_path() / value;
      return ParseFile(included).status();
    }
    if (option == "-e" || option == "--editable") {
      if (value.empty()) return Bad(file, line, text, "-e needs a path or URL");
      req.editable = true;
      req.url = value;
      out_.push_back(std::move(req));
      return OkStatus();
    }
    if (IsOptionWithValue(option)) {
      if (value.empty()) return Bad(file, line, text, fmt::format("{} needs a value", option));
      return OkStatus();
    }
    if (IsFlagOption(option)) return OkStatus();
    return Bad(file, line, text, fmt::format("unknown option '{}'", option));
  }

  Status ParseSpecifier(const fs::path& file, int line, const std::string& text, Requirement& req) {
    size_t i = 0;
    auto skip_space = [&] {
      while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    };
    while (i < text.size() && IsNameChar(text[i])) ++i;
    req.name = text.substr(0, i);
    if (req.name.empty() || !std::isalnum(static_cast<unsigned char>(req.name.front())) ||
        !std::isalnum(static_cast<unsigned char>(req.name.back()))) {
      return Bad(file, line, text, "expected a package name (letters, digits, '.', '_', '-')");
    }
    skip_space();
    if (i < text.size() && text[i] == '[') {
      const size_t close = text.find(']', i);
      if (close == std::string::npos) return Bad(file, line, text, "'[' without ']'");
      req.extras = text.substr(i, close - i + 1);
      i = close + 1;
      skip_space();
    }
    if (i < text.size() && text[i] == '@') {
      ++i;
      skip_space();
      const size_t end = text.find_first_of(" \t;", i);
      req.url = text.substr(i, end == std::string::npos ? std::string::npos : end - i);
      if (req.url.empty()) return Bad(file, line, text, "'@' needs a URL");
      i = end == std::string::npos ? text.size() : end;
      skip_space();
    } else {
      const bool parenthesised = i < text.size() && text[i] == '(';
      if (parenthesised) ++i;
      std::vector<std::string> clauses;
      while (true) {
        skip_space();
        size_t op_start = i;
        while (i < text.size() &&
               std::string_view("=!<>~").find(text[i]) != std::string_view::npos) {
          ++i;
        }
        const std::string op = text.substr(op_start, i - op_start);
        if (op.empty()) break;
        if (op != "==" && op != "!=" && op != "<=" && op != ">=" && op != "~=" && op != "===" &&
            op != "<" && op != ">") {
          return Bad(file, line, text, fmt::format("'{}' is not a version comparison", op));
        }
        skip_space();
        size_t v_start = i;
        while (i < text.size() && IsVersionChar(text[i])) ++i;
        if (i == v_start) return Bad(file, line, text, fmt::format("'{}' needs a version", op));
        clauses.push_back(op + text.substr(v_start, i - v_start));
        skip_space();
        if (i < text.size() && text[i] == ',') {
          ++i;
          continue;
        }
        break;
      }
      if (parenthesised) {
        if (i >= text.size() || text[i] != ')') return Bad(file, line, text, "'(' without ')'");
        ++i;
        skip_space();
      }
      req.specifier = Join(clauses, ",");
    }
    if (i < text.size() && text[i] == ';') {
      const size_t options = text.find(" --", i);
      req.marker = std::string(Trim(
          text.substr(i + 1, options == std::string::npos ? std::string::npos : options - i - 1)));
      if (req.marker.empty()) return Bad(file, line, text, "';' needs an environment marker");
      i = options == std::string::npos ? text.size() : options;
      skip_space();
    }
    // Per-requirement options pip allows after the requirement.
    while (i < text.size()) {
      const size_t end = text.find_first_of(" \t", i);
      const std::string token =
          text.substr(i, end == std::string::npos ? std::string::npos : end - i);
      if (!token.starts_with("--hash=") && !token.starts_with("--config-settings=") &&
          !token.starts_with("--global-option=") && !token.starts_with("--install-option=")) {
        return Bad(file, line, text, fmt::format("unexpected '{}'", token));
      }
      i = end == std::string::npos ? text.size() : end;
      skip_space();
    }
    out_.push_back(std::move(req));
    return OkStatus();
  }

  std::vector<Requirement> out_;
  std::set<std::string> open_;  // files being read, to catch include cycles
};

}  // namespace

std::string Requirement::Display() const {
  if (name.empty()) return editable ? "-e " + url : url;
  std::string out = name + extras;
  if (!url.empty()) return out + " @ " + url;
  if (specifier.starts_with("==") && specifier.find(',') == std::string::npos &&
      !specifier.starts_with("===")) {
    return out + "=" + specifier.substr(2);
  }
  return out + specifier;
}

Result<std::vector<Requirement>> ParseRequirementsFile(const std::filesystem::path& path) {
  Parser parser;
  return parser.ParseFile(path);
}

nlohmann::json RequirementsToJson(const std::vector<Requirement>& requirements) {
  nlohmann::json out = nlohmann::json::array();
  for (const Requirement& r : requirements) {
    out.push_back({{"name", r.name},
                   {"extras", r.extras},
                   {"specifier", r.specifier},
                   {"url", r.url},
                   {"marker", r.marker},
                   {"editable", r.editable},
                   {"display", r.Display()}});
  }
  return out;
}

}  // namespace somlier

#include "somlier/core/yaml_load.h"

#include <fmt/core.h>
#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <istream>
#include <limits>
#include <memory>
#include <streambuf>
#include <string>
#include <unordered_map>
#include <vector>

#include "somlier/core/strings.h"

namespace somlier {
namespace {

constexpr std::size_t kMax = std::numeric_limits<std::size_t>::max();

std::size_t SaturatingAdd(std::size_t a, std::size_t b) { return a > kMax - b ? kMax : a + b; }

// A read-only std::streambuf over a caller's buffer, so that the text is not copied into
// an std::istringstream for each of the two passes.
class ViewBuf : public std::streambuf {
 public:
  explicit ViewBuf(std::string_view text) {
    // The get area is only read: putback() of the character just read moves gptr() back.
    char* begin = const_cast<char*>(text.data());
    setg(begin, begin, begin + text.size());
  }
};

// Thrown by BoundsChecker to abandon yaml-cpp's parse at the first limit exceeded; the
// reason is in BoundsChecker::status(). Not a YAML::Exception, so it cannot be mistaken
// for a syntax error.
struct Refused {};

// Follows the events of one document and computes, for each container, the nodes and the
// height of its subtree with aliases expanded in place. An anchor's numbers are known
// once its node ends, so an alias costs a table look-up; an alias to an anchor whose node
// has not ended yet is an alias inside its own anchor, i.e. a cycle.
class BoundsChecker : public YAML::EventHandler {
 public:
  BoundsChecker(std::string_view file, const YamlLimits& limits) : file_(file), limits_(limits) {}

  const Status& status() const { return status_; }

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}

  void OnAnchor(const YAML::Mark&, const std::string& name) override { pending_name_ = name; }

  void OnNull(const YAML::Mark&, YAML::anchor_t anchor) override { Leaf(anchor); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                const std::string& value) override {
    // An escape such as "\ud800" (a lone surrogate) decodes to bytes that are not UTF-8.
    if (FindInvalidUtf8(value) != std::string::npos) {
      Fail(
          fmt::format("{}: the value at line {} is not valid UTF-8 once its escapes are "
                      "decoded",
                      file_, mark.line + 1));
    }
    Leaf(anchor);
  }

  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    saw_alias_ = true;
    auto it = anchors_.find(anchor);
    if (it == anchors_.end()) {
      Fail(fmt::format("{}: alias at line {} refers to no anchor defined before it", file_,
                       mark.line + 1));
    }
    const AnchorInfo& info = it->second;
    if (info.open) {
      Fail(fmt::format(
          "{}: alias '*{}' at line {} refers to its own enclosing node (a cycle); YAML anchors "
          "must not contain themselves",
          file_, info.name, mark.line + 1));
    }
    if (SaturatingAdd(frames_.size(), info.height) > limits_.max_depth) {
      Fail(fmt::format("{}: nested deeper than {} levels once alias '*{}' at line {} is expanded",
                       file_, limits_.max_depth, info.name, mark.line + 1));
    }
    Count(info.nodes);
    AddToParent(info.nodes, info.height);
  }

  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    Open(mark, anchor);
  }
  void OnSequenceEnd() override { Close(); }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    Open(mark, anchor);
  }
  void OnMapEnd() override { Close(); }

 private:
  struct AnchorInfo {
    std::string name;
    bool open = true;        // its node has started but not ended
    std::size_t nodes = 0;   // expanded size of its subtree, the node itself included
    std::size_t height = 0;  // containers on the longest path down from it (0: a scalar)
  };
  // An open sequence or mapping.
  struct Frame {
    YAML::anchor_t anchor;
    std::size_t nodes;         // expanded nodes seen so far in its subtree, itself included
    std::size_t child_height;  // the tallest child so far
  };

  [[noreturn]] void Fail(std::string message) {
    status_ = InvalidArgument(std::move(message));
    throw Refused{};
  }

  void Define(YAML::anchor_t anchor) {
    if (anchor == YAML::NullAnchor) return;
    // yaml-cpp numbers anchors afresh at each definition, even of a name used before, so
    // an entry is never overwritten.
    AnchorInfo& info = anchors_[anchor];
    // Kept for messages, shortened: a name may be as long as the file.
    constexpr std::size_t kShown = 60;
    info.name = pending_name_.empty()            ? std::to_string(anchor)
                : pending_name_.size() <= kShown ? pending_name_
                                                 : pending_name_.substr(0, kShown) + "...";
    pending_name_.clear();
  }

  // Adds `nodes` to the document's expanded size; fails beyond the limit.
  void Count(std::size_t nodes) {
    total_ = SaturatingAdd(total_, nodes);
    if (total_ <= limits_.max_nodes) return;
    Fail(saw_alias_ ? fmt::format("{}: expands to more than {} nodes through aliases (a "
                                  "'billion laughs' document?)",
                                  file_, limits_.max_nodes)
                    : fmt::format("{}: has more than {} nodes, the most a YAML file may have",
                                  file_, limits_.max_nodes));
  }

  // Records a finished child (`nodes` expanded nodes, `height` levels of containers) of
  // the innermost open container, if any.
  void AddToParent(std::size_t nodes, std::size_t height) {
    if (frames_.empty()) return;
    Frame& parent = frames_.back();
    parent.nodes = SaturatingAdd(parent.nodes, nodes);
    parent.child_height = std::max(parent.child_height, height);
  }

  void Leaf(YAML::anchor_t anchor) {
    Define(anchor);
    if (anchor != YAML::NullAnchor) {
      AnchorInfo& info = anchors_[anchor];
      info.open = false;
      info.nodes = 1;
    }
    Count(1);
    AddToParent(1, 0);
  }

  void Open(const YAML::Mark& mark, YAML::anchor_t anchor) {
    if (frames_.size() >= limits_.max_depth) {
      Fail(fmt::format("{}: nested deeper than {} levels at line {}", file_, limits_.max_depth,
                       mark.line + 1));
    }
    Define(anchor);
    Count(1);  // the container itself; its children count as they come
    frames_.push_back(Frame{anchor, 1, 0});
  }

  void Close() {
    if (frames_.empty()) return;  // not expected from yaml-cpp
    const Frame done = frames_.back();
    frames_.pop_back();
    const std::size_t height = SaturatingAdd(done.child_height, 1);
    if (done.anchor != YAML::NullAnchor) {
      AnchorInfo& info = anchors_[done.anchor];
      info.open = false;
      info.nodes = done.nodes;
      info.height = height;
    }
    // Its nodes were counted in total_ as they came; the parent learns its subtree's size.
    AddToParent(done.nodes, height);
  }

  const std::string_view file_;
  const YamlLimits& limits_;
  Status status_;
  std::vector<Frame> frames_;
  std::unordered_map<YAML::anchor_t, AnchorInfo> anchors_;
  std::string pending_name_;
  std::size_t total_ = 0;  // expanded nodes seen so far in the document
  bool saw_alias_ = false;
};

Status SyntaxError(std::string_view file, const YAML::ParserException& e) {
  return InvalidArgument(fmt::format("{}:{}:{}: YAML syntax error: {}", file, e.mark.line + 1,
                                     e.mark.column + 1, e.msg));
}

std::string DescribeBytes(std::size_t bytes) {
  constexpr std::size_t kMiB = std::size_t{1} << 20;
  if (bytes >= kMiB && bytes % kMiB == 0) return fmt::format("{} MiB", bytes / kMiB);
  return fmt::format("{} bytes", bytes);
}

Result<std::string> ReadCapped(const std::filesystem::path& file, std::size_t max_bytes) {
  const std::string name = file.string();
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(name.c_str(), "rb"), &std::fclose);
  if (f == nullptr) {
    return InvalidArgument(fmt::format("{}: cannot read: {}", name, std::strerror(errno)));
  }
  std::string text;
  char buffer[64 * 1024];
  while (true) {
    // Never asks for more than one byte past the cap, so /dev/zero or a huge file stop
    // there.
    const std::size_t want = std::min(sizeof(buffer), SaturatingAdd(max_bytes, 1) - text.size());
    const std::size_t got = std::fread(buffer, 1, want, f.get());
    text.append(buffer, got);
    if (text.size() > max_bytes) {
      return InvalidArgument(
          fmt::format("{}: is larger than {}, the most SoMLier reads of a YAML file", name,
                      DescribeBytes(max_bytes)));
    }
    if (got < want) {
      if (std::ferror(f.get())) {
        return InvalidArgument(fmt::format("{}: cannot read: {}", name, std::strerror(errno)));
      }
      return text;
    }
  }
}

}  // namespace

Result<YAML::Node> LoadYamlBounded(std::string_view text, std::string_view file_name,
                                   const YamlLimits& limits) {
  // YAML files are UTF-8 here; what they hold reaches JSON output and generated text.
  if (const size_t bad = FindInvalidUtf8(text); bad != std::string_view::npos) {
    const size_t line = 1 + static_cast<size_t>(std::count(text.begin(), text.begin() + bad, '\n'));
    return InvalidArgument(
        fmt::format("{}:{}: not valid UTF-8 (byte 0x{:02x}); save the file as UTF-8", file_name,
                    line, static_cast<unsigned char>(text[bad])));
  }
  // Pass 1: events only, no nodes; abandoned at the first limit exceeded.
  {
    ViewBuf buffer(text);
    std::istream in(&buffer);
    BoundsChecker checker(file_name, limits);
    try {
      YAML::Parser parser(in);
      parser.HandleNextDocument(checker);
    } catch (const Refused&) {
      return checker.status();
    } catch (const YAML::DeepRecursion& e) {
      // yaml-cpp's own guard (500 levels in 0.7), reached only with a larger max_depth.
      return InvalidArgument(fmt::format("{}:{}:{}: nested too deeply for the YAML parser",
                                         file_name, e.mark.line + 1, e.mark.column + 1));
    } catch (const YAML::ParserException& e) {
      return SyntaxError(file_name, e);
    } catch (const YAML::Exception& e) {
      return InvalidArgument(fmt::format("{}: cannot parse: {}", file_name, e.what()));
    }
  }
  // Pass 2: the same text, now known to be within the limits, into nodes.
  try {
    ViewBuf buffer(text);
    std::istream in(&buffer);
    return YAML::Load(in);
  } catch (const YAML::ParserException& e) {
    return SyntaxError(file_name, e);
  } catch (const YAML::Exception& e) {
    return InvalidArgument(fmt::format("{}: cannot parse: {}", file_name, e.what()));
  }
}

Result<YAML::Node> LoadYamlFileBounded(const std::filesystem::path& file,
                                       const YamlLimits& limits) {
  SOMLIER_ASSIGN_OR_RETURN(std::string text, ReadCapped(file, limits.max_bytes));
  return LoadYamlBounded(text, file.string(), limits);
}

nlohmann::json YamlToJson(const YAML::Node& node,
                          const std::function<nlohmann::json(const YAML::Node&)>& scalar) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      nlohmann::json out = nlohmann::json::object();
      for (const auto& item : node) out[item.first.Scalar()] = YamlToJson(item.second, scalar);
      return out;
    }
    case YAML::NodeType::Sequence: {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& item : node) out.push_back(YamlToJson(item, scalar));
      return out;
    }
    case YAML::NodeType::Scalar:
      return scalar(node);
    default:
      return nullptr;
  }
}

}  // namespace somlier

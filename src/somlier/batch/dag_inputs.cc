#include "somlier/batch/dag_inputs.h"

#include <fmt/core.h>

#include <regex>

namespace somlier::batch {
namespace {

bool Templated(std::string_view word) {
  return word.find("{{") != std::string_view::npos || word.find("{%") != std::string_view::npos ||
         word.find("{#") != std::string_view::npos;
}

// What follows a '$' for a shell to expand it (a name, ${...}, $(...), $1, $?, $$, ...).
bool Expands(std::string_view text, size_t dollar) {
  if (dollar + 1 >= text.size()) return false;
  const char c = text[dollar + 1];
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("_{(?$!#@*-").find(c) != std::string_view::npos;
}

}  // namespace

Status CheckDagId(std::string_view dag_id) {
  if (dag_id.empty() || dag_id.size() > 250) {
    return InvalidArgument(
        fmt::format("DAG_ID '{}' must be 1 to 250 characters long", dag_id.substr(0, 260)));
  }
  for (char c : dag_id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.' || c == '-';
    if (!ok) {
      return InvalidArgument(fmt::format(
          "DAG_ID '{}' may contain only letters, digits, '_', '.' and '-' (Airflow's rule)",
          dag_id));
    }
  }
  // It also names a file (dags/<id>.py), a git branch and a URL path segment.
  if (dag_id.front() == '.' || dag_id.front() == '-' || dag_id.back() == '.' ||
      dag_id.find("..") != std::string_view::npos || dag_id.ends_with(".lock")) {
    return InvalidArgument(fmt::format(
        "DAG_ID '{}' must not start with '.' or '-', end with '.' or '.lock', or contain '..' (it "
        "names a file and a git branch)",
        dag_id));
  }
  return OkStatus();
}

Status CheckImageReference(std::string_view image) {
  // The reference grammar of the distribution project, in short.
  // The reference grammar of the distribution project, in short: a first component is a
  // registry only when it has a '.' or a port, or is localhost.
  static const std::regex kReference(
      R"(^((?:localhost|[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)+|[a-zA-Z0-9-]+:[0-9]+)(?::[0-9]+)?/)?)"
      R"([a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*)"
      R"((?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$)");
  if (image.empty() || image.size() > 512 ||
      !std::regex_match(image.begin(), image.end(), kReference)) {
    return InvalidArgument(fmt::format(
        "DOCKER_IMAGE '{}' is not an image reference ([registry/]name[:tag][@sha256:digest], the "
        "name in lowercase, e.g. registry.example.com/team/job:1.2)",
        image.substr(0, 520)));
  }
  return OkStatus();
}

Result<std::vector<std::string>> SplitEntrypoint(std::string_view text) {
  if (text.size() > 16384) return InvalidArgument("ENTRYPOINT is longer than 16384 characters");
  auto refuse = [&](std::string_view what) {
    return InvalidArgument(fmt::format(
        "ENTRYPOINT '{}' {}; the command runs without a shell: quote it to pass it literally, or "
        "run `sh -c '...'`",
        text, what));
  };
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == ' ' || c == '\t') {
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
      continue;
    }
    if (c == '\n') return refuse("has a line break, which a shell reads as a second command");
    if (c == '\0') return refuse("contains a NUL character");
    if (!in_word && c == '#') return refuse("has a word starting with '#', a shell's comment");
    if (!in_word && c == '~') return refuse("starts a word with '~', which a shell expands");
    in_word = true;
    if (c == '\'') {
      const size_t close = text.find('\'', i + 1);
      if (close == std::string_view::npos) return refuse("has an unclosed ' quote");
      word.append(text.substr(i + 1, close - i - 1));
      i = close;
    } else if (c == '"') {
      size_t j = i + 1;
      for (; j < text.size() && text[j] != '"'; ++j) {
        if (text[j] == '\\' && j + 1 < text.size() &&
            std::string_view("\"\\$`\n").find(text[j + 1]) != std::string_view::npos) {
          ++j;
          if (text[j] != '\n') word += text[j];
          continue;
        }
        if (text[j] == '`' || (text[j] == '$' && Expands(text, j))) {
          return refuse(
              "expands a variable or a command inside \"...\"; write the value itself, "
              "or put it in '...'");
        }
        word += text[j];
      }
      if (j >= text.size()) return refuse("has an unclosed \" quote");
      i = j;
    } else if (c == '\\') {
      if (i + 1 < text.size()) {
        if (text[i + 1] != '\n') word += text[i + 1];
        ++i;
      }
    } else if (std::string_view("|;&<>()`*?[").find(c) != std::string_view::npos ||
               (c == '$' && Expands(text, i))) {
      return refuse(fmt::format("uses '{}' unquoted, which a shell would interpret", c));
    } else {
      word += c;
    }
  }
  if (in_word) words.push_back(std::move(word));
  if (words.empty()) return InvalidArgument("ENTRYPOINT is empty: give the command to run");
  if (const auto eq = words.front().find('=');
      eq != std::string::npos && words.front().find('/') > eq) {
    return refuse(
        fmt::format("starts with the assignment '{}', which needs a shell", words.front()));
  }
  for (const std::string& w : words) {
    if (Templated(w)) {
      return InvalidArgument(fmt::format(
          "ENTRYPOINT '{}' has the word '{}' with '{{{{', '{{%' or '{{#': Airflow renders its "
          "commands with Jinja, so it would not run as written",
          text, w));
    }
  }
  return words;
}

Status CheckNotTemplated(std::string_view what, std::string_view word) {
  if (!Templated(word)) return OkStatus();
  return InvalidArgument(fmt::format(
      "{} '{}' has '{{{{', '{{%' or '{{#': Airflow renders its commands with Jinja, so it would "
      "not reach the pod as written",
      what, word));
}

}  // namespace somlier::batch

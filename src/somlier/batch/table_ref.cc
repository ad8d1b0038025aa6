#include "somlier/batch/table_ref.h"

#include <fmt/core.h>

#include <vector>

namespace somlier::batch {
namespace {

bool IsLower(char c) { return c >= 'a' && c <= 'z'; }
bool IsLetter(char c) { return IsLower(c) || (c >= 'A' && c <= 'Z'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool ProjectId(std::string_view s) {
  if (s.size() < 6 || s.size() > 30 || !IsLower(s.front()) || s.back() == '-') return false;
  for (char c : s) {
    if (!IsLower(c) && !IsDigit(c) && c != '-') return false;
  }
  return true;
}

bool DatasetId(std::string_view s) {
  if (s.empty() || s.size() > 1024) return false;
  for (char c : s) {
    if (!IsLetter(c) && !IsDigit(c) && c != '_') return false;
  }
  return true;
}

bool TableId(std::string_view s) {
  if (s.empty() || s.size() > 1024 || s.front() == '-') return false;
  for (char c : s) {
    if (!IsLetter(c) && !IsDigit(c) && c != '_' && c != '-') return false;
  }
  return true;
}

}  // namespace

std::string TableRef::ToString() const {
  std::string out = project.empty() ? "" : project + ".";
  if (!dataset.empty()) out += dataset + ".";
  return out + table;
}

Result<TableRef> ParseTableRef(std::string_view what, std::string_view text, bool allow_bare) {
  std::vector<std::string_view> parts;
  for (size_t start = 0;;) {
    const size_t dot = text.find('.', start);
    parts.push_back(text.substr(start, dot == std::string_view::npos ? dot : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  const std::string shown(text.substr(0, 200));
  if (parts.size() > 3 || (parts.size() == 1 && !allow_bare)) {
    return InvalidArgument(fmt::format(
        "{} '{}' is not a table reference: give {}dataset.table or project.dataset.table", what,
        shown, allow_bare ? "table, " : ""));
  }
  TableRef ref;
  ref.table = std::string(parts.back());
  if (parts.size() >= 2) ref.dataset = std::string(parts[parts.size() - 2]);
  if (parts.size() == 3) ref.project = std::string(parts[0]);
  if (!ref.project.empty() || parts.size() == 3) {
    if (!ProjectId(ref.project)) {
      return InvalidArgument(fmt::format(
          "{} '{}': project '{}' is not a project id (6-30 lowercase letters, digits and '-', "
          "starting with a letter)",
          what, shown, ref.project.substr(0, 100)));
    }
  }
  if (parts.size() >= 2 && !DatasetId(ref.dataset)) {
    return InvalidArgument(
        fmt::format("{} '{}': dataset '{}' may contain only letters, digits and '_'", what, shown,
                    ref.dataset.substr(0, 100)));
  }
  if (!TableId(ref.table)) {
    return InvalidArgument(
        fmt::format("{} '{}': table '{}' may contain only letters, digits, '_' and '-'", what,
                    shown, ref.table.substr(0, 100)));
  }
  return ref;
}

Status CheckColumnName(std::string_view what, std::string_view column) {
  bool ok = !column.empty() && column.size() <= 300 &&
            (IsLetter(column.front()) || column.front() == '_');
  for (char c : column) ok = ok && (IsLetter(c) || IsDigit(c) || c == '_');
  if (!ok) {
    return InvalidArgument(fmt::format(
        "{} '{}' is not a column name (letters, digits and '_', starting with a letter or '_')",
        what, column.substr(0, 200)));
  }
  return OkStatus();
}

std::string QuoteIdentifier(std::string_view name, bool bigquery) {
  std::string out(1, bigquery ? '`' : '"');
  for (char c : name) {
    if (bigquery && (c == '`' || c == '\\')) {
      out += '\\';
    } else if (!bigquery && c == '"') {
      out += '"';
    }
    out += c;
  }
  out += bigquery ? '`' : '"';
  return out;
}

}  // namespace somlier::batch

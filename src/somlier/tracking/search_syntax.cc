#include "somlier/tracking/search_syntax.h"

#include <fmt/core.h>

#include <cctype>
#include <charconv>
#include <optional>
#include <span>

#include "somlier/core/strings.h"
#include "somlier/tracking/paging.h"
#include "somlier/tracking/validation.h"

namespace somlier {
namespace {

// What each search accepts.
struct AttributeRule {
  std::string_view name;  // as written in queries
  std::string_view key;   // the Store's attribute key
  bool numeric;
  bool filterable;
};

constexpr AttributeRule kRunAttributes[] = {
    {"run_id", "run_id", false, true},
    {"run_name", "run_name", false, true},
    {"run name", "run_name", false, true},
    {"Run name", "run_name", false, true},
    {"Run Name", "run_name", false, true},
    {"status", "status", false, true},
    {"start_time", "start_time", true, true},
    {"created", "start_time", true, true},
    {"Created", "start_time", true, true},
    {"end_time", "end_time", true, true},
    {"user_id", "user_id", false, true},
    {"artifact_uri", "artifact_uri", false, true},
    {"lifecycle_stage", "lifecycle_stage", false, true},
    {"git_uri", "git_uri", false, true},
    {"git_ref", "git_ref", false, true},
    {"git_commit", "git_commit", false, true},
    {"project_path", "project_path", false, true},
    {"entrypoint", "entrypoint", false, true},
};

constexpr AttributeRule kExperimentAttributes[] = {
    {"name", "name", false, true},
    {"creation_time", "creation_time", true, true},
    {"last_update_time", "last_update_time", true, true},
    {"experiment_id", "experiment_id", true, false},
};

constexpr AttributeRule kModelAttributes[] = {
    {"name", "name", false, true},
    {"timestamp", "last_updated_timestamp", true, false},
    {"last_updated_timestamp", "last_updated_timestamp", true, false},
    {"creation_timestamp", "creation_timestamp", true, false},
};

constexpr AttributeRule kVersionAttributes[] = {
    {"name", "name", false, true},
    {"run_id", "run_id", false, true},
    {"source_path", "source_path", false, true},
    {"version_number", "version_number", true, true},
    {"current_stage", "current_stage", false, true},
    {"creation_timestamp", "creation_timestamp", true, false},
    {"last_updated_timestamp", "last_updated_timestamp", true, false},
};

std::span<const AttributeRule> AttributesOf(SearchKind kind) {
  switch (kind) {
    case SearchKind::kRuns:
      return kRunAttributes;
    case SearchKind::kExperiments:
      return kExperimentAttributes;
    case SearchKind::kRegisteredModels:
      return kModelAttributes;
    case SearchKind::kModelVersions:
      break;
  }
  return kVersionAttributes;
}

std::string AttributeNames(SearchKind kind, bool for_filter) {
  std::vector<std::string> names;
  for (const auto& a : AttributesOf(kind)) {
    if ((a.filterable || !for_filter) && a.name.find(' ') == std::string_view::npos &&
        !std::isupper(static_cast<unsigned char>(a.name[0]))) {
      names.emplace_back(a.name);
    }
  }
  return Join(names, ", ");
}

// The entity prefix of an identifier, as a FieldKind (nullopt: not one this search knows).
std::optional<FieldKind> EntityKind(SearchKind kind, std::string_view entity) {
  const std::string e = ToLower(entity);
  if (e == "attribute" || e == "attributes" || e == "attr" ||
      (kind == SearchKind::kRuns && e == "run")) {
    return FieldKind::kAttribute;
  }
  if (e == "tag" || e == "tags") return FieldKind::kTag;
  if (kind != SearchKind::kRuns) return std::nullopt;
  if (e == "metric" || e == "metrics") return FieldKind::kMetric;
  if (e == "dataset" || e == "datasets") return FieldKind::kDataset;
  if (e == "param" || e == "params" || e == "parameter" || e == "parameters") {
    return FieldKind::kParam;
  }
  return std::nullopt;
}

struct Value {
  enum Type { kNumber, kString, kList } type = kString;
  double number = 0;
  bool integral = false;
  int64_t integer = 0;
  std::string text;
  std::vector<std::string> list;
};

class Lexer {
 public:
  explicit Lexer(std::string_view text) : text_(text) {}

  void SkipSpace() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  bool AtEnd() {
    SkipSpace();
    return pos_ >= text_.size();
  }
  size_t pos() const { return pos_; }
  std::string_view Rest() const { return text_.substr(pos_); }

  Status Error(std::string_view what) const {
    return InvalidArgument(
        fmt::format("invalid search expression '{}' at position {}: {}", text_, pos_ + 1, what));
  }

  // A bare word of letters, digits and '_'.
  std::string Word() {
    SkipSpace();
    size_t start = pos_;
    while (pos_ < text_.size() &&
           (std::isalnum(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '_')) {
      ++pos_;
    }
    return std::string(text_.substr(start, pos_ - start));
  }

  // A string in ' " or ` quotes (a doubled quote stands for one); nullopt if none here.
  Result<std::optional<std::string>> Quoted() {
    SkipSpace();
    if (pos_ >= text_.size()) return std::optional<std::string>();
    const char quote = text_[pos_];
    if (quote != '\'' && quote != '"' && quote != '`') return std::optional<std::string>();
    std::string out;
    ++pos_;
    while (true) {
      if (pos_ >= text_.size()) return Error(fmt::format("unclosed {} quote", quote));
      if (text_[pos_] == quote) {
        if (pos_ + 1 < text_.size() && text_[pos_ + 1] == quote) {
          out += quote;
          pos_ += 2;
          continue;
        }
        ++pos_;
        return std::optional<std::string>(std::move(out));
      }
      out += text_[pos_++];
    }
  }

  // The key after "entity.": quoted, or up to whitespace, a comparator or a comma.
  Result<std::string> Key() {
    SOMLIER_ASSIGN_OR_RETURN(auto quoted, Quoted());
    if (quoted) return *quoted;
    size_t start = pos_;
    while (pos_ < text_.size() && !std::isspace(static_cast<unsigned char>(text_[pos_])) &&
           std::string_view("=!<>(),").find(text_[pos_]) == std::string_view::npos) {
      ++pos_;
    }
    if (pos_ == start) return Error("expected a key");
    return std::string(text_.substr(start, pos_ - start));
  }

  bool Consume(char c) {
    SkipSpace();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  // Case-insensitive keyword followed by a non-word character.
  bool Keyword(std::string_view word) {
    SkipSpace();
    if (text_.size() - pos_ < word.size()) return false;
    if (ToLower(text_.substr(pos_, word.size())) != ToLower(word)) return false;
    const size_t end = pos_ + word.size();
    if (end < text_.size() &&
        (std::isalnum(static_cast<unsigned char>(text_[end])) || text_[end] == '_')) {
      return false;
    }
    pos_ = end;
    return true;
  }

  Result<std::string> Comparator() {
    SkipSpace();
    for (std::string_view op : {"<=", ">=", "!=", "<>", "=", "<", ">"}) {
      if (Rest().starts_with(op)) {
        pos_ += op.size();
        return std::string(op == "<>" ? "!=" : op);
      }
    }
    if (Keyword("ILIKE")) return std::string("ILIKE");
    if (Keyword("LIKE")) return std::string("LIKE");
    if (Keyword("IN")) return std::string("IN");
    if (Keyword("NOT")) {
      if (Keyword("IN")) return std::string("NOT IN");
      return Error("expected IN after NOT");
    }
    return Error("expected a comparator (=, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN)");
  }

  Result<Value> ParseValue() {
    SkipSpace();
    Value v;
    if (Consume('(')) {
      v.type = Value::kList;
      while (true) {
        SOMLIER_ASSIGN_OR_RETURN(auto item, Quoted());
        if (!item) return Error("expected a quoted string in the list");
        v.list.push_back(*item);
        if (Consume(',')) continue;
        if (Consume(')')) break;
        return Error("expected ',' or ')' in the list");
      }
      return v;
    }
    SOMLIER_ASSIGN_OR_RETURN(auto quoted, Quoted());
    if (quoted) {
      v.text = *quoted;
      return v;
    }
    size_t start = pos_;
    while (pos_ < text_.size() && !std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
    std::string token(text_.substr(start, pos_ - start));
    if (token.empty()) return Error("expected a value");
    v.type = Value::kNumber;
    const char* begin = token.data();
    const char* end = token.data() + token.size();
    auto [p, ec] = std::from_chars(begin, end, v.integer);
    if (ec == std::errc() && p == end) {
      v.integral = true;
      v.number = static_cast<double>(v.integer);
      return v;
    }
    char* parse_end = nullptr;
    v.number = std::strtod(token.c_str(), &parse_end);
    if (parse_end != token.c_str() + token.size()) {
      pos_ = start;
      return Error(fmt::format("'{}' is neither a number nor a quoted string", token));
    }
    return v;
  }

 private:
  std::string_view text_;
  size_t pos_ = 0;
};

struct Identifier {
  FieldKind kind = FieldKind::kAttribute;
  std::string key;       // the Store's key
  bool numeric = false;  // for attributes
};

// Reads "[entity.]key" and resolves it for this search.
Result<Identifier> ReadIdentifier(Lexer& lex, SearchKind kind, bool for_filter) {
  Identifier id;
  std::string entity;
  std::string key;
  SOMLIER_ASSIGN_OR_RETURN(auto quoted, lex.Quoted());
  if (quoted) {
    key = *quoted;  // a quoted bare attribute name, e.g. "Run Name"
  } else {
    entity = lex.Word();
    if (entity.empty()) return lex.Error("expected an identifier such as metrics.rmse");
    if (lex.Consume('.')) {
      SOMLIER_ASSIGN_OR_RETURN(key, lex.Key());
    } else {
      key = entity;
      entity.clear();
    }
  }
  if (!entity.empty()) {
    auto entity_kind = EntityKind(kind, entity);
    if (!entity_kind) {
      return lex.Error(fmt::format("'{}' is not something this search can {} by", entity,
                                   for_filter ? "filter" : "order"));
    }
    id.kind = *entity_kind;
  }
  if (id.kind == FieldKind::kDataset) {
    if (!for_filter) {
      return lex.Error(
          "runs are not ordered by datasets (only by attributes, metrics, params "
          "or tags)");
    }
    if (key != "name" && key != "digest" && key != "context") {
      return lex.Error(fmt::format(
          "'{}' is not a dataset field this search can filter by (expected name, digest, "
          "context)",
          key));
    }
  }
  if (id.kind != FieldKind::kAttribute) {
    if (key.empty()) return lex.Error("expected a key after the '.'");
    id.key = key;
    return id;
  }
  for (const AttributeRule& a : AttributesOf(kind)) {
    if (a.name == key && (a.filterable || !for_filter)) {
      id.key = std::string(a.key);
      id.numeric = a.numeric;
      return id;
    }
  }
  return lex.Error(fmt::format("'{}' is not an attribute this search can {} by (expected {})", key,
                               for_filter ? "filter" : "order", AttributeNames(kind, for_filter)));
}

CompareOp ToOp(const std::string& op) {
  if (op == "=") return CompareOp::kEq;
  if (op == "!=") return CompareOp::kNe;
  if (op == "<") return CompareOp::kLt;
  if (op == "<=") return CompareOp::kLe;
  if (op == ">") return CompareOp::kGt;
  if (op == ">=") return CompareOp::kGe;
  if (op == "LIKE") return CompareOp::kLike;
  if (op == "ILIKE") return CompareOp::kILike;
  if (op == "IN") return CompareOp::kIn;
  return CompareOp::kNotIn;
}

Result<Filter> ReadComparison(Lexer& lex, SearchKind kind) {
  SOMLIER_ASSIGN_OR_RETURN(Identifier id, ReadIdentifier(lex, kind, /*for_filter=*/true));
  SOMLIER_ASSIGN_OR_RETURN(std::string op, lex.Comparator());
  SOMLIER_ASSIGN_OR_RETURN(Value value, lex.ParseValue());
  const bool numeric =
      id.kind == FieldKind::kMetric || (id.kind == FieldKind::kAttribute && id.numeric);
  const bool is_set = op == "IN" || op == "NOT IN";
  const bool is_pattern = op == "LIKE" || op == "ILIKE";
  Filter f{id.kind, id.key, ToOp(op), {}};
  if (numeric) {
    if (is_set || is_pattern) {
      return lex.Error(fmt::format("'{}' does not apply to the numeric '{}'", op, id.key));
    }
    if (value.type != Value::kNumber) {
      return lex.Error(fmt::format("'{}' needs a number, not a string", id.key));
    }
    if (id.kind == FieldKind::kAttribute) {
      if (!value.integral) return lex.Error(fmt::format("'{}' needs an integer", id.key));
      f.values.emplace_back(value.integer);
    } else {
      f.values.emplace_back(value.number);
    }
    return f;
  }
  if (op == "<" || op == "<=" || op == ">" || op == ">=") {
    return lex.Error(
        fmt::format("'{}' does not apply to the string '{}' (use =, !=, LIKE, ILIKE)", op, id.key));
  }
  if (is_set) {
    if (id.kind != FieldKind::kAttribute && id.kind != FieldKind::kDataset) {
      return lex.Error(fmt::format(
          "'{}' applies to attributes such as run_id and to datasets, not to '{}'", op, id.key));
    }
    if (value.type != Value::kList) {
      return lex.Error(fmt::format("'{}' needs a list such as ('a', 'b')", op));
    }
    for (auto& item : value.list) f.values.emplace_back(std::move(item));
    return f;
  }
  if (value.type != Value::kString) {
    return lex.Error(fmt::format("'{}' needs a quoted string value", id.key));
  }
  f.values.emplace_back(std::move(value.text));
  return f;
}

}  // namespace

Result<std::vector<Filter>> ParseSearchFilter(SearchKind kind, std::string_view filter) {
  std::vector<Filter> out;
  Lexer lex(filter);
  if (lex.AtEnd()) return out;
  while (true) {
    SOMLIER_ASSIGN_OR_RETURN(Filter f, ReadComparison(lex, kind));
    out.push_back(std::move(f));
    if (lex.AtEnd()) return out;
    if (lex.Keyword("AND")) continue;
    if (lex.Keyword("OR")) return lex.Error("OR is not supported; combine conditions with AND");
    return lex.Error("expected AND between conditions");
  }
}

Result<std::vector<Order>> ParseOrderBy(SearchKind kind, const std::vector<std::string>& clauses) {
  std::vector<Order> out;
  for (const std::string& clause : clauses) {
    Lexer lex(clause);
    SOMLIER_ASSIGN_OR_RETURN(Identifier id, ReadIdentifier(lex, kind, /*for_filter=*/false));
    Order o{id.kind, id.key, true};
    if (lex.Keyword("DESC")) {
      o.ascending = false;
    } else {
      lex.Keyword("ASC");
    }
    if (!lex.AtEnd()) return lex.Error("expected only ASC or DESC after the key");
    for (const Order& seen : out) {
      if (seen.kind == o.kind && seen.key == o.key) {
        return lex.Error(fmt::format("'{}' is ordered by twice", id.key));
      }
    }
    out.push_back(std::move(o));
  }
  return out;
}

Result<SearchPlan> PlanSearch(SearchKind kind, const SearchRequest& request, int64_t limit) {
  SOMLIER_RETURN_IF_ERROR(ValidateMaxResults(request.max_results, limit));
  SearchPlan plan;
  SOMLIER_ASSIGN_OR_RETURN(plan.filters, ParseSearchFilter(kind, request.filter));
  SOMLIER_ASSIGN_OR_RETURN(plan.order_by, ParseOrderBy(kind, request.order_by));
  SOMLIER_ASSIGN_OR_RETURN(plan.offset, DecodePageToken(request.page_token));
  plan.fetch = request.max_results + 1;
  return plan;
}

}  // namespace somlier

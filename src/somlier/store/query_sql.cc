#include "somlier/store/query_sql.h"

#include <fmt/core.h>

namespace somlier::store_internal {
namespace {

constexpr AttributeColumn kRunAttributes[] = {
    {"run_id", "run_uuid", false},
    {"run_name", "name", false},
    {"status", "status", false},
    {"start_time", "start_time", true},
    {"end_time", "end_time", true},
    {"user_id", "user_id", false},
    {"artifact_uri", "artifact_uri", false},
    {"lifecycle_stage", "lifecycle_stage", false},
    {"git_uri", "source_git_uri", false},
    {"git_ref", "source_git_ref", false},
    {"git_commit", "source_git_commit", false},
    {"project_path", "source_project_path", false},
    {"entrypoint", "source_entrypoint", false},
};

const AttributeColumn* Find(std::span<const AttributeColumn> attributes, std::string_view key) {
  for (const auto& a : attributes) {
    if (a.key == key) return &a;
  }
  return nullptr;
}

std::string KnownKeys(std::span<const AttributeColumn> attributes) {
  std::string out;
  for (const auto& a : attributes) {
    if (!out.empty()) out += ", ";
    out += a.key;
  }
  return out;
}

std::string_view KindName(FieldKind kind) {
  switch (kind) {
    case FieldKind::kMetric:
      return "metric";
    case FieldKind::kParam:
      return "param";
    case FieldKind::kTag:
      return "tag";
    case FieldKind::kDataset:
      return "dataset";
    case FieldKind::kAttribute:
      break;
  }
  return "attribute";
}

std::string_view OpSql(CompareOp op) {
  switch (op) {
    case CompareOp::kEq:
      return "=";
    case CompareOp::kNe:
      return "<>";
    case CompareOp::kLt:
      return "<";
    case CompareOp::kLe:
      return "<=";
    case CompareOp::kGt:
      return ">";
    case CompareOp::kGe:
      return ">=";
    case CompareOp::kIn:
      return "IN";
    case CompareOp::kNotIn:
      return "NOT IN";
    default:
      return "LIKE";
  }
}

// Conditions joined by AND, with their bound values in order.
struct Conditions {
  std::string sql;
  Values values;

  void Add(const std::string& condition) {
    sql += sql.empty() ? "" : " AND ";
    sql += condition;
  }

  // "<lhs> <op> <values>", checking the values' count and type.
  Status Compare(const std::string& lhs, const Filter& f, bool numeric) {
    const std::string what = fmt::format("{} '{}'", KindName(f.kind), f.key);
    const bool is_set = f.op == CompareOp::kIn || f.op == CompareOp::kNotIn;
    if (is_set ? f.values.empty() : f.values.size() != 1) {
      return InvalidArgument(fmt::format("the filter on {} needs {}", what,
                                         is_set ? "at least one value" : "exactly one value"));
    }
    if (numeric && (f.op == CompareOp::kLike || f.op == CompareOp::kILike)) {
      return InvalidArgument(fmt::format("LIKE and ILIKE do not apply to the numeric {}", what));
    }
    for (const SqlValue& v : f.values) {
      const bool is_number =
          std::holds_alternative<int64_t>(v) || std::holds_alternative<double>(v);
      if (numeric != is_number) {
        return InvalidArgument(
            fmt::format("the filter on {} needs a {} value", what, numeric ? "numeric" : "string"));
      }
      values.push_back(v);
    }
    if (is_set) {
      Add(fmt::format("{} {} ({})", lhs, OpSql(f.op), Placeholders(f.values.size())));
    } else if (f.op == CompareOp::kILike) {
      Add(fmt::format("LOWER({}) LIKE LOWER(?)", lhs));
    } else {
      Add(fmt::format("{} {} ?", lhs, OpSql(f.op)));
    }
    return OkStatus();
  }
};

Status CheckFilterCount(size_t filters, size_t orders) {
  if (filters > kMaxSearchFilters || orders > kMaxSearchKeys) {
    return InvalidArgument(fmt::format(
        "a search may have at most {} filter conditions and {} order_by terms; this one has {} "
        "and {}",
        kMaxSearchFilters, kMaxSearchKeys, filters, orders));
  }
  return OkStatus();
}

class RunSearchSql {
 public:
  Status Build(const RunQuery& q) {
    if (q.experiment_ids.empty()) {
      return InvalidArgument("a run search needs at least one experiment id");
    }
    if (q.max_results < 0 || q.offset < 0) {
      return InvalidArgument(fmt::format("max_results ({}) and offset ({}) must not be negative",
                                         q.max_results, q.offset));
    }
    experiments_ = "(" + Placeholders(q.experiment_ids.size()) + ")";
    for (int64_t id : q.experiment_ids) experiment_values_.emplace_back(id);
    where_.Add("r.experiment_id IN " + experiments_);
    where_.values = experiment_values_;
    if (q.view == ViewType::kActiveOnly) where_.Add("r.lifecycle_stage = 'active'");
    if (q.view == ViewType::kDeletedOnly) where_.Add("r.lifecycle_stage = 'deleted'");
    SOMLIER_RETURN_IF_ERROR(CheckFilterCount(q.filters.size(), q.order_by.size()));
    for (const Filter& f : q.filters) SOMLIER_RETURN_IF_ERROR(AddFilter(f));
    for (const Order& o : q.order_by) SOMLIER_RETURN_IF_ERROR(AddOrder(o));
    if (joins_.size() > kMaxSearchKeys) {
      return InvalidArgument(fmt::format(
          "a run search may name at most {} different metrics, params and tags (filter and "
          "order_by together); this one names {}",
          kMaxSearchKeys, joins_.size()));
    }
    order_ += order_.empty() ? "" : ", ";
    order_ += "r.start_time DESC, r.run_uuid ASC";
    limit_values_ = {q.max_results, q.offset};
    return OkStatus();
  }

  SqlStatement Statement(bool count_only) const {
    SqlStatement s;
    std::string joins;
    for (const Join& j : joins_) {
      if (count_only && !j.inner) continue;  // left joins only serve ordering
      joins += fmt::format(" {} {} {} ON {}.run_uuid = r.run_uuid AND {}.key = ?",
                           j.inner ? "JOIN" : "LEFT JOIN", j.table, j.alias, j.alias, j.alias);
      s.values.emplace_back(j.key);
      // Lets the engine walk latest_metrics' (experiment_id, key, value) index.
      if (j.inner && j.kind == FieldKind::kMetric) {
        joins += fmt::format(" AND {}.experiment_id IN {}", j.alias, experiments_);
        s.values.insert(s.values.end(), experiment_values_.begin(), experiment_values_.end());
      }
    }
    s.values.insert(s.values.end(), where_.values.begin(), where_.values.end());
    if (count_only) {
      s.sql = fmt::format("SELECT COUNT(*) FROM runs r{} WHERE {}", joins, where_.sql);
      return s;
    }
    s.sql = fmt::format("SELECT {} FROM runs r{} WHERE {} ORDER BY {} LIMIT ? OFFSET ?",
                        RunColumns("r"), joins, where_.sql, order_);
    s.values.insert(s.values.end(), limit_values_.begin(), limit_values_.end());
    return s;
  }

 private:
  struct Join {
    FieldKind kind;
    std::string key;
    std::string alias;
    std::string_view table;
    bool inner;
    bool not_null = false;  // a metric join whose value is known not to be NULL (NaN)
  };

  static std::string_view TableFor(FieldKind kind) {
    return kind == FieldKind::kMetric  ? "latest_metrics"
           : kind == FieldKind::kParam ? "params"
                                       : "tags";
  }

  Join& JoinFor(FieldKind kind, const std::string& key, bool inner) {
    for (Join& j : joins_) {
      if (j.kind == kind && j.key == key) {
        j.inner = j.inner || inner;
        return j;
      }
    }
    joins_.push_back({kind, key, fmt::format("j{}", joins_.size()), TableFor(kind), inner});
    return joins_.back();
  }

  // A run matches when any of its dataset inputs does: an EXISTS on its inputs, joined to
  // their datasets (name, digest) or to their mlflow.data.context tags (context).
  Status AddDatasetFilter(const Filter& f) {
    switch (f.op) {
      case CompareOp::kEq:
      case CompareOp::kNe:
      case CompareOp::kLike:
      case CompareOp::kILike:
      case CompareOp::kIn:
      case CompareOp::kNotIn:
        break;
      default:
        return InvalidArgument(fmt::format(
            "dataset '{}' is compared with =, !=, LIKE, ILIKE, IN or NOT IN only", f.key));
    }
    Conditions inner;
    std::string from;
    if (f.key == "name" || f.key == "digest") {
      from = "run_inputs ri JOIN datasets d ON d.dataset_id = ri.dataset_id";
      SOMLIER_RETURN_IF_ERROR(inner.Compare("d." + f.key, f, /*numeric=*/false));
    } else if (f.key == "context") {
      from = "run_inputs ri JOIN run_input_tags t ON t.input_id = ri.input_id";
      inner.Add("t.key = ?");
      inner.values.emplace_back(std::string(kDatasetContextTag));
      SOMLIER_RETURN_IF_ERROR(inner.Compare("t.value", f, /*numeric=*/false));
    } else {
      return InvalidArgument(fmt::format(
          "'{}' is not a dataset field one can search on (name, digest, context)", f.key));
    }
    where_.Add(fmt::format("EXISTS (SELECT 1 FROM {} WHERE ri.run_uuid = r.run_uuid AND {})", from,
                           inner.sql));
    where_.values.insert(where_.values.end(), inner.values.begin(), inner.values.end());
    return OkStatus();
  }

  Status AddFilter(const Filter& f) {
    if (f.key.empty()) return InvalidArgument("a run filter needs a key");
    if (f.kind == FieldKind::kDataset) return AddDatasetFilter(f);
    if (f.kind == FieldKind::kAttribute) {
      const AttributeColumn* a = Find(kRunAttributes, f.key);
      if (a == nullptr) {
        return InvalidArgument(fmt::format("'{}' is not a run attribute one can search on ({})",
                                           f.key, KnownKeys(kRunAttributes)));
      }
      if (f.op == CompareOp::kExists || f.op == CompareOp::kNotExists) {
        where_.Add(
            fmt::format("r.{} IS {}NULL", a->column, f.op == CompareOp::kExists ? "NOT " : ""));
        return OkStatus();
      }
      return where_.Compare(fmt::format("r.{}", a->column), f, a->numeric);
    }
    if (f.op == CompareOp::kNotExists) {
      where_.Add(fmt::format(
          "NOT EXISTS (SELECT 1 FROM {} x WHERE x.run_uuid = r.run_uuid AND x.key = ?{})",
          TableFor(f.kind), f.kind == FieldKind::kMetric ? " AND x.value IS NOT NULL" : ""));
      where_.values.emplace_back(f.key);
      return OkStatus();
    }
    Join& j = JoinFor(f.kind, f.key, /*inner=*/true);
    if (f.kind == FieldKind::kMetric && !j.not_null) {
      // NaN is stored as NULL: a run whose metric is NaN has no comparable value.
      where_.Add(j.alias + ".value IS NOT NULL");
      j.not_null = true;
    }
    if (f.op == CompareOp::kExists) return OkStatus();
    return where_.Compare(j.alias + ".value", f, f.kind == FieldKind::kMetric);
  }

  Status AddOrder(const Order& o) {
    if (!order_.empty()) order_ += ", ";
    const char* direction = o.ascending ? "ASC" : "DESC";
    if (o.kind == FieldKind::kAttribute) {
      const AttributeColumn* a = Find(kRunAttributes, o.key);
      if (a == nullptr) {
        return InvalidArgument(fmt::format("'{}' is not a run attribute one can order by ({})",
                                           o.key, KnownKeys(kRunAttributes)));
      }
      order_ += fmt::format("r.{} {}", a->column, direction);
      return OkStatus();
    }
    if (o.kind == FieldKind::kDataset) {
      return InvalidArgument(fmt::format(
          "runs cannot be ordered by dataset '{}' (order by attributes, metrics, params or tags)",
          o.key));
    }
    const Join& j = JoinFor(o.kind, o.key, /*inner=*/false);
    // Without NULLs the plain direction keeps an index's order usable.
    order_ += fmt::format("{}.value {}{}", j.alias, direction, j.not_null ? "" : " NULLS LAST");
    return OkStatus();
  }

  std::string experiments_;
  Values experiment_values_;
  std::vector<Join> joins_;
  Conditions where_;
  std::string order_;
  Values limit_values_;
};

}  // namespace

Result<SqlStatement> BuildRunSearch(const RunQuery& query, bool count_only) {
  RunSearchSql builder;
  SOMLIER_RETURN_IF_ERROR(builder.Build(query));
  return builder.Statement(count_only);
}

Result<SqlStatement> BuildEntitySearch(const EntityTable& table, std::string_view fixed_where,
                                       const std::vector<Filter>& filters,
                                       const std::vector<Order>& order_by, int64_t max_results,
                                       int64_t offset) {
  if (max_results < 0 || offset < 0) {
    return InvalidArgument(
        fmt::format("max_results ({}) and offset ({}) must not be negative", max_results, offset));
  }
  SOMLIER_RETURN_IF_ERROR(CheckFilterCount(filters.size(), order_by.size()));
  Conditions where;
  if (!fixed_where.empty()) where.Add(std::string(fixed_where));
  for (const Filter& f : filters) {
    if (f.kind == FieldKind::kTag) {
      if (f.op == CompareOp::kExists || f.op == CompareOp::kNotExists) {
        where.Add(fmt::format("{}EXISTS (SELECT 1 FROM {} t WHERE {} AND t.key = ?)",
                              f.op == CompareOp::kExists ? "" : "NOT ", table.tag_table,
                              table.tag_match));
        where.values.emplace_back(f.key);
        continue;
      }
      // The tag's value is compared inside the EXISTS, so bind the key before the value.
      Conditions inner;
      inner.values.emplace_back(f.key);
      SOMLIER_RETURN_IF_ERROR(inner.Compare("t.value", f, /*numeric=*/false));
      where.Add(fmt::format("EXISTS (SELECT 1 FROM {} t WHERE {} AND t.key = ? AND {})",
                            table.tag_table, table.tag_match, inner.sql));
      where.values.insert(where.values.end(), inner.values.begin(), inner.values.end());
      continue;
    }
    if (f.kind != FieldKind::kAttribute) {
      return InvalidArgument(
          fmt::format("{} filters do not apply to this search", KindName(f.kind)));
    }
    const AttributeColumn* a = Find(table.attributes, f.key);
    if (a == nullptr) {
      return InvalidArgument(fmt::format("'{}' is not an attribute one can search on ({})", f.key,
                                         KnownKeys(table.attributes)));
    }
    SOMLIER_RETURN_IF_ERROR(
        where.Compare(fmt::format("{}.{}", table.alias, a->column), f, a->numeric));
  }
  std::string order;
  for (const Order& o : order_by) {
    const AttributeColumn* a =
        o.kind == FieldKind::kAttribute ? Find(table.attributes, o.key) : nullptr;
    if (a == nullptr) {
      return InvalidArgument(fmt::format("cannot order by '{}' (expected one of {})", o.key,
                                         KnownKeys(table.attributes)));
    }
    order += order.empty() ? "" : ", ";
    order += fmt::format("{}.{} {}", table.alias, a->column, o.ascending ? "ASC" : "DESC");
  }
  if (order.empty()) order = std::string(table.default_order);
  order += ", ";
  order += table.tiebreak;
  SqlStatement s;
  s.sql = fmt::format("SELECT {} FROM {}{}{} ORDER BY {} LIMIT ? OFFSET ?", table.columns,
                      table.from, where.sql.empty() ? "" : " WHERE ", where.sql, order);
  s.values = std::move(where.values);
  s.values.emplace_back(max_results);
  s.values.emplace_back(offset);
  return s;
}

}  // namespace somlier::store_internal

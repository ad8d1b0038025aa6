// Fields: the one reader of a request's fields — typed accessors that name the field and
// the expected type in their errors, and the unknown-field check of SoMLier's own
// endpoints. Used by the MLflow routes, the use-case table (api/use_cases.h) and, through
// it, the in-process CLI. A value type; not synchronised.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "somlier/core/json_number.h"
#include "somlier/core/result.h"
#include "somlier/store/entities.h"

namespace httplib {
struct Request;
}  // namespace httplib

namespace somlier::api {

// The fields of a request: the JSON body (an object; empty means {}) for POST, PATCH and
// DELETE, and the query string for GET (repeated keys make a list), in the order given.
// Accessors check types and name the field in their errors ("Missing value for required
// parameter 'name'"). The one reader of request fields for every endpoint, MLflow's and
// SoMLier's own.
// How a request's fields are read and what their errors say: MLflow's routes read
// MLflow's forms (ids as numbers, int64s as strings, an empty body as {}, a double-encoded
// body) and answer in MLflow's words; SoMLier's own endpoints take a JSON object with JSON
// types and answer as the seed's API did ("'project_name' is required").
enum class FieldDialect { kMlflow, kSomlier };

class Fields {
 public:
  static Result<Fields> From(const httplib::Request& request);
  static Result<Fields> FromJsonBody(std::string_view body,
                                     FieldDialect dialect = FieldDialect::kMlflow);
  // A request the CLI made in-process, read as SoMLier's endpoints read theirs (its keys
  // come sorted: order-sensitive fields are sent as text instead). Errors: InvalidArgument
  // when it is not an object.
  static Result<Fields> FromJson(const nlohmann::json& request);

  bool Has(std::string_view name) const;
  // Strings; numbers are accepted and spelled in decimal (legacy clients send ids as ints).
  Result<std::string> RequiredString(std::string_view name) const;
  Result<std::string> String(std::string_view name, std::string fallback = "") const;
  // A JSON number or a decimal string (protobuf JSON's int64), checked against `range`
  // before conversion (core/json_number.h).
  Result<std::optional<int64_t>> Int(std::string_view name, IntRange range = {}) const;
  Result<std::optional<double>> Double(std::string_view name) const;
  Result<std::optional<bool>> Bool(std::string_view name) const;
  Result<std::vector<std::string>> StringList(std::string_view name) const;
  // A list of {"key", "value"} objects.
  Result<std::vector<Tag>> TagList(std::string_view name) const;
  // Nested messages, read with the same accessors: an object field, or a list of objects
  // (absent: nullopt, an empty list). Their errors name a field by its path in the request
  // ("Missing value for required parameter 'datasets[0].dataset.digest'").
  Result<std::optional<Fields>> Object(std::string_view name) const;
  Result<std::vector<Fields>> ObjectList(std::string_view name) const;
  const nlohmann::ordered_json* Raw(std::string_view name) const;

  // OK when every field is one of `accepted`; else InvalidArgument naming the first other
  // one and listing the accepted ones. SoMLier's own endpoints refuse unknown fields; the
  // MLflow routes ignore them, as MLflow does (newer clients send fields older servers
  // do not know).
  Status OnlyKnown(std::span<const std::string_view> accepted) const;

 private:
  Fields(nlohmann::ordered_json json, FieldDialect dialect, std::string path = "")
      : json_(std::move(json)), dialect_(dialect), path_(std::move(path)) {}
  Status Missing(std::string_view name) const;
  Status WrongType(std::string_view name, const nlohmann::ordered_json& value,
                   std::string_view expected) const;

  nlohmann::ordered_json json_;
  FieldDialect dialect_;
  std::string path_;  // where a nested message is in the request ("datasets[0]."), for errors
};

}  // namespace somlier::api

// Fuzz target: prediction request bodies of the model server — ParseInvocationsInput
// (serving/mlflow_input.h) as application/json or text/csv, ParseV2InferRequest
// (serving/v2_input.h), and ConformToSchema (serving/schema_check.h) on what parsed, against
// no signature, a column signature of every type, and a tensor signature.
//
// Input: the first byte chooses the content type of /invocations (even: JSON, odd: CSV);
// the rest is the body, also given to ParseV2InferRequest.
//
// Invariants: a parsed table has rows * cols cells, at least one row and one column, and
// either no column names or one per column; a V2 request's id re-serialises with nlohmann's
// strict dump (the server writes it into its answer that way); a conformed input has, per
// column, rows values of its wire width (a tensor: rows x its row shape), rows null flags when
// nullable, and string columns that parse as one JSON list of rows strings or nulls.
#include <nlohmann/json.hpp>

#include "fuzz/fuzz_util.h"
#include "somlier/serving/mlflow_input.h"
#include "somlier/serving/schema_check.h"
#include "somlier/serving/v2_input.h"

namespace {

using somlier::serving::ModelInput;
using somlier::serving::ModelSchema;
using somlier::serving::RequestTable;

void CheckTable(const RequestTable& t, std::string_view what) {
  FUZZ_CHECK(t.rows > 0 && t.cols > 0, std::string(what) + ": an empty table was accepted");
  FUZZ_CHECK(t.cells.size() == t.rows * t.cols,
             std::string(what) + ": " + std::to_string(t.cells.size()) + " cells for " +
                 std::to_string(t.rows) + " x " + std::to_string(t.cols));
  FUZZ_CHECK(t.columns.empty() || t.columns.size() == t.cols,
             std::string(what) + ": " + std::to_string(t.columns.size()) + " names for " +
                 std::to_string(t.cols) + " columns");
}

void CheckInput(const ModelInput& m) {
  size_t per_row = 1;
  for (int64_t d : m.row_shape) per_row *= static_cast<size_t>(d);
  for (const auto& column : m.columns) {
    const size_t width = somlier::serving::WireWidth(column.type);
    if (width > 0) {
      const size_t values = m.tensor ? m.rows * per_row : m.rows;
      FUZZ_CHECK(column.data.size() == values * width, "a column has the wrong number of bytes");
    } else {
      auto list = nlohmann::json::parse("[" + column.data + "]", nullptr, false);
      FUZZ_CHECK(list.is_array() && list.size() == m.rows,
                 "a string column is not a JSON list of one value per row");
    }
    FUZZ_CHECK(column.nulls.size() == (column.nullable ? m.rows : 0),
               "a column has the wrong number of null flags");
  }
}

const std::vector<ModelSchema>& Schemas() {
  static const std::vector<ModelSchema> schemas = [] {
    std::vector<ModelSchema> out = {ModelSchema{{}, {"a", "b"}, 2}, ModelSchema{{}, {}, 3},
                                    ModelSchema{}};
    for (const char* inputs : {
             R"([{"name": "a", "type": "string"}, {"name": "b", "type": "long"},
                 {"name": "c", "type": "boolean", "required": false},
                 {"name": "d", "type": "datetime"}, {"name": "e", "type": "float"},
                 {"name": "f", "type": "binary", "required": false},
                 {"name": "g", "type": "integer", "required": false}])",
             R"([{"name": "a", "type": "double"}])",
             R"([{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 2, 2]}}])",
             R"([{"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1, -1]}}])"}) {
      ModelSchema schema;
      schema.signature = *somlier::serving::ParseSignature(nlohmann::json::parse(inputs));
      out.push_back(schema);
    }
    return out;
  }();
  return schemas;
}

void Conform(const RequestTable& table) {
  for (const auto& schema : Schemas()) {
    auto input = somlier::serving::ConformToSchema(table, schema);
    if (input.ok()) CheckInput(*input);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view content_type = (data[0] & 1) ? "text/csv" : "application/json";
  const std::string_view body = somlier::fuzz::AsText(data + 1, size - 1);

  auto invocations = somlier::serving::ParseInvocationsInput(content_type, body);
  if (invocations.ok()) {
    CheckTable(*invocations, content_type);
    Conform(*invocations);
  }

  auto v2 = somlier::serving::ParseV2InferRequest(body);
  if (v2.ok()) {
    CheckTable(v2->table, "V2");
    // As the server writes it into its answer.
    somlier::fuzz::ExpectNoThrow("the V2 request id as JSON",
                                 [&] { (void)nlohmann::json(v2->id).dump(); });
    Conform(v2->table);
  }
  return 0;
}

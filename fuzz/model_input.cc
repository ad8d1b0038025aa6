// Fuzz target: prediction request bodies of the model server (serving/model_input.h) —
// ParseInvocationsInput as application/json or text/csv, ParseV2InferRequest, and
// ConformToSchema on what parsed.
//
// Input: the first byte chooses the content type of /invocations (even: JSON, odd: CSV);
// the rest is the body, also given to ParseV2InferRequest.
//
// Invariants: a parsed matrix has rows * cols values, at least one row and one column, and
// either no column names or one per column; a V2 request's id re-serialises with nlohmann's
// strict dump (the server writes it into its answer that way); ConformToSchema keeps
// rows * cols values.
#include "somlier/serving/model_input.h"

#include <nlohmann/json.hpp>

#include "fuzz/fuzz_util.h"

namespace {

using somlier::serving::InputMatrix;

void CheckShape(const InputMatrix& m, std::string_view what) {
  FUZZ_CHECK(m.rows > 0 && m.cols > 0, std::string(what) + ": an empty matrix was accepted");
  FUZZ_CHECK(m.values.size() == m.rows * m.cols,
             std::string(what) + ": " + std::to_string(m.values.size()) + " values for " +
                 std::to_string(m.rows) + " x " + std::to_string(m.cols));
  FUZZ_CHECK(m.columns.empty() || m.columns.size() == m.cols,
             std::string(what) + ": " + std::to_string(m.columns.size()) + " names for " +
                 std::to_string(m.cols) + " columns");
}

void Conform(const InputMatrix& parsed) {
  static const somlier::serving::ModelSchema kSchemas[] = {
      {{"a", "b"}, 2}, {{}, 3}, {{}, -1}, {{"x"}, -1}};
  for (const auto& schema : kSchemas) {
    InputMatrix m = parsed;
    if (somlier::serving::ConformToSchema(m, schema).ok()) {
      FUZZ_CHECK(m.values.size() == m.rows * m.cols, "ConformToSchema broke the matrix");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view content_type = (data[0] & 1) ? "text/csv" : "application/json";
  const std::string_view body = somlier::fuzz::AsText(data + 1, size - 1);

  auto invocations = somlier::serving::ParseInvocationsInput(content_type, body);
  if (invocations.ok()) {
    CheckShape(*invocations, content_type);
    Conform(*invocations);
  }

  auto v2 = somlier::serving::ParseV2InferRequest(body);
  if (v2.ok()) {
    CheckShape(v2->matrix, "V2");
    // As the server writes it into its answer.
    somlier::fuzz::ExpectNoThrow("the V2 request id as JSON",
                                 [&] { (void)nlohmann::json(v2->id).dump(); });
    Conform(v2->matrix);
  }
  return 0;
}

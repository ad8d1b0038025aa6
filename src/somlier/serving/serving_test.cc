#include <fmt/core.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <csignal>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <thread>

#include "fake_clock.h"
#include "somlier/serving/dynamic_batcher.h"
#include "somlier/serving/local_deployments.h"
#include "somlier/serving/metrics.h"
#include "somlier/serving/mlflow_input.h"
#include "somlier/serving/model_input.h"
#include "somlier/serving/schema_check.h"
#include "somlier/serving/v2_input.h"
#include "temp_dir.h"

namespace somlier::serving {
namespace {

using namespace std::chrono_literals;

Result<ModelInput> Conform(std::string_view body, const ModelSchema& schema = {},
                           std::string_view type = "application/json") {
  SOMLIER_ASSIGN_OR_RETURN(RequestTable table, ParseInvocationsInput(type, body));
  return ConformToSchema(table, schema);
}

Result<ModelInput> ConformV2(std::string_view body, const ModelSchema& schema = {}) {
  SOMLIER_ASSIGN_OR_RETURN(V2InferRequest request, ParseV2InferRequest(body));
  return ConformToSchema(request.table, schema);
}

ModelInput Ok(Result<ModelInput> input, std::string_view what) {
  EXPECT_TRUE(input.ok()) << what << ": " << input.status().message();
  return input.ok() ? *input : ModelInput{};
}

std::string Error(Result<ModelInput> input, std::string_view what) {
  EXPECT_FALSE(input.ok()) << what;
  EXPECT_EQ(input.status().code(), StatusCode::kInvalidArgument) << what;
  return input.status().message();
}

template <typename T>
std::vector<T> Values(const TypedColumn& column) {
  std::vector<T> out(column.data.size() / sizeof(T));
  std::memcpy(out.data(), column.data.data(), out.size() * sizeof(T));
  return out;
}

ModelSchema Signature(std::string_view inputs) {
  auto signature = ParseSignature(nlohmann::json::parse(inputs));
  EXPECT_TRUE(signature.ok()) << signature.status().message();
  ModelSchema schema;
  if (signature.ok()) schema.signature = *signature;
  return schema;
}

TEST(ModelInput, EveryMlflowFormGivesTheSameMatrix) {
  const std::vector<double> expected = {1, 2, 3, 4, 5, 6};
  for (std::string_view body :
       {R"({"dataframe_split": {"columns": ["a", "b", "c"], "data": [[1, 2, 3], [4, 5, 6]]}})",
        R"({"dataframe_records": [{"a": 1, "b": 2, "c": 3}, {"a": 4, "b": 5, "c": 6}]})",
        R"({"instances": [[1, 2, 3], [4, 5, 6]]})",
        R"({"instances": [{"a": 1, "b": 2, "c": 3}, {"a": 4, "b": 5, "c": 6}]})",
        R"({"inputs": [[1, 2, 3], [4, 5, 6]]})",
        R"({"inputs": {"a": [1, 4], "b": [2, 5], "c": [3, 6]}})"}) {
    ModelInput m = Ok(Conform(body), body);
    EXPECT_TRUE(m.tensor) << body;
    EXPECT_EQ(m.rows, 2u) << body;
    EXPECT_EQ(m.row_shape, (std::vector<int64_t>{3})) << body;
    EXPECT_EQ(m.dtype, "float64");
    ASSERT_EQ(m.columns.size(), 1u);
    EXPECT_EQ(Values<double>(m.columns[0]), expected) << body;
  }
  ModelInput csv = Ok(Conform("a,b,c\r\n1,2,3\n4,5,6\n", {}, "text/csv; charset=utf-8"), "csv");
  EXPECT_EQ(csv.names, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(Values<double>(csv.columns[0]), expected);
  // Booleans are 0/1, null is NaN, a flat list is one column.
  ModelInput mixed = Ok(Conform(R"({"instances": [true, null, 2.5]})"), "mixed");
  EXPECT_EQ(mixed.row_shape, (std::vector<int64_t>{1}));
  auto values = Values<double>(mixed.columns[0]);
  EXPECT_EQ(values[0], 1.0);
  EXPECT_TRUE(std::isnan(values[1]));
}

TEST(ModelInput, BadInputNamesWhatIsWrong) {
  auto parse_error = [](std::string_view body, std::string_view type = "application/json") {
    auto t = ParseInvocationsInput(type, body);
    EXPECT_FALSE(t.ok()) << body;
    return t.status().message();
  };
  EXPECT_EQ(parse_error(""), "the request body is empty");
  EXPECT_EQ(parse_error("{"), "the request body is not valid JSON");
  EXPECT_NE(parse_error(R"({"rows": []})").find("exactly one of"), std::string::npos);
  EXPECT_NE(
      parse_error(R"({"instances": [[1], [1]], "inputs": [[1]]})").find("'instances', 'inputs'"),
      std::string::npos);
  EXPECT_EQ(parse_error(R"({"instances": [[1, 2], [3]]})"), "row 1 has 1 values, expected 2");
  EXPECT_EQ(parse_error(R"({"instances": []})"), "the input has no rows");
  EXPECT_EQ(parse_error(R"({"dataframe_split": {"columns": ["a", "a"], "data": [[1, 2]]}})"),
            "column 'a' is given twice");
  EXPECT_NE(parse_error("a,b\n1,2,3\n", "text/csv").find("has 3 values, expected 2"),
            std::string::npos);
  EXPECT_NE(parse_error("x=1", "application/x-www-form-urlencoded").find("not valid JSON"),
            std::string::npos);
  EXPECT_EQ(Error(Conform(R"({"instances": [[1, "x"]]})"), "x"),
            "row 0, column 1: \"x\" is not a number");
  EXPECT_EQ(Error(Conform(R"({"dataframe_records": [{"a": "x"}]})"), "record"),
            "row 0, column 'a': \"x\" is not a number");
  EXPECT_EQ(Error(Conform("a,b\n1,zz\n", {}, "text/csv"), "csv"),
            "row 0, column 'b': 'zz' is not a number");
}

TEST(ModelInput, V2InferRequestsFlatOrNested) {
  for (
      std::string_view body :
      {R"({"id": "r1", "inputs": [{"name": "x", "shape": [2, 2], "datatype": "FP32", "data": [1, 2, 3, 4]}]})",
       R"({"id": "r1", "inputs": [{"name": "x", "shape": [2, 2], "datatype": "FP64", "data": [[1, 2], [3, 4]]}]})"}) {
    auto r = ParseV2InferRequest(body);
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_EQ(r->id, "r1");
    ModelInput m = Ok(ConformToSchema(r->table, {}), body);
    EXPECT_EQ(m.rows, 2u);
    EXPECT_EQ(m.row_shape, (std::vector<int64_t>{2}));
    EXPECT_TRUE(m.names.empty());  // the input's name is not a column's
    EXPECT_EQ(Values<double>(m.columns[0]), (std::vector<double>{1, 2, 3, 4}));
  }
  auto wrong_shape = ParseV2InferRequest(
      R"({"inputs": [{"name": "x", "shape": [2, 3], "datatype": "FP32", "data": [1, 2, 3, 4]}]})");
  EXPECT_EQ(wrong_shape.status().message(), "input 'x': shape [2,3] needs 6 values, 'data' has 4");
  auto huge = ParseV2InferRequest(
      R"({"inputs": [{"name": "x", "shape": [4611686018427387904, 4], "datatype": "FP32", "data": []}]})");
  EXPECT_EQ(huge.status().code(), StatusCode::kInvalidArgument);  // 2^62 * 4 wraps to 0
  EXPECT_NE(
      Error(ConformV2(
                R"({"inputs": [{"name": "x", "shape": [1], "datatype": "BYTES", "data": ["a"]}]})"),
            "bytes")
          .find("datatype 'BYTES' is not supported"),
      std::string::npos);
  EXPECT_NE(ParseV2InferRequest(R"({"inputs": []})").status().message().find("0 inputs"),
            std::string::npos);
}

TEST(ConformToSchema, ReordersNamedColumnsAndChecksCounts) {
  ModelSchema schema{{}, {"a", "b", "c"}, 3};
  ModelInput m = Ok(
      Conform(R"({"dataframe_split": {"columns": ["c", "a", "b"], "data": [[3, 1, 2]]}})", schema),
      "reorder");
  EXPECT_EQ(Values<double>(m.columns[0]), (std::vector<double>{1, 2, 3}));
  EXPECT_EQ(m.names, schema.feature_names);
  EXPECT_EQ(Error(Conform(R"({"dataframe_records": [{"a": 1, "b": 2, "z": 3}]})", schema), "z"),
            "the input's columns do not match the model's; missing: 'c'; unknown: 'z'; "
            "expected: a, b, c");
  EXPECT_EQ(Error(Conform(R"({"instances": [[1, 2]]})", schema), "count"),
            "the model expects 3 features per row, the input has 2");
  Ok(Conform(R"({"instances": [[1, 2, 3]]})", schema), "positional");
  Ok(Conform(R"({"instances": [[1, 2]]})"), "anything");
}

// A churn model's columns, as MLflow writes them in MLmodel.
const char* kChurnSignature = R"([
  {"name": "plan", "type": "string"}, {"name": "tenure", "type": "long"},
  {"name": "support", "type": "boolean"}, {"name": "spend", "type": "double"},
  {"name": "since", "type": "datetime", "required": false},
  {"name": "seats", "type": "integer", "required": false}])";

TEST(ConformToSchema, ColumnSignaturesConvertEachColumnToItsType) {
  const ModelSchema schema = Signature(kChurnSignature);
  for (
      std::string_view body : {
          R"({"dataframe_records": [{"spend": 1.5, "support": true, "tenure": 12, "plan": "pro", "extra": "ignored"},
                                     {"plan": "basic", "tenure": 3.0, "support": false, "spend": 2, "extra": 0}]})",
          R"({"dataframe_split": {"columns": ["plan", "tenure", "support", "spend"],
                                   "data": [["pro", 12, true, 1.5], ["basic", 3, false, 2]]}})",
          R"({"inputs": {"plan": ["pro", "basic"], "tenure": [12, 3], "support": [true, false], "spend": [1.5, 2]}})"}) {
    ModelInput m = Ok(Conform(body, schema), body);
    EXPECT_FALSE(m.tensor);
    ASSERT_EQ(m.columns.size(), 6u) << body;
    EXPECT_EQ(m.columns[0].data, R"("pro","basic")") << body;
    EXPECT_EQ(Values<int64_t>(m.columns[1]), (std::vector<int64_t>{12, 3})) << body;
    EXPECT_EQ(Values<uint8_t>(m.columns[2]), (std::vector<uint8_t>{1, 0})) << body;
    EXPECT_EQ(Values<double>(m.columns[3]), (std::vector<double>{1.5, 2})) << body;
    // Optional columns the request leaves out are all missing: NaT, and a null mask.
    EXPECT_EQ(Values<int64_t>(m.columns[4]),
              (std::vector<int64_t>(2, std::numeric_limits<int64_t>::min())));
    EXPECT_TRUE(m.columns[5].nullable);
    EXPECT_EQ(m.columns[5].nulls, std::string("\1\1", 2));
  }
  ModelInput csv = Ok(Conform("plan,tenure,support,spend,since,seats\n"
                              "pro,12,TRUE,1.5,2024-05-01T12:30:00+09:00,4\n",
                              schema, "text/csv"),
                      "csv");
  EXPECT_EQ(csv.columns[0].data, R"("pro")");
  EXPECT_EQ(Values<int64_t>(csv.columns[4]), (std::vector<int64_t>{1714534200000000000}));
  EXPECT_EQ(Values<int32_t>(csv.columns[5]), (std::vector<int32_t>{4}));
  EXPECT_EQ(csv.columns[5].nulls, std::string("\0", 1));
  // Without names, the signature's columns in order.
  ModelInput positional =
      Ok(Conform(R"({"instances": [["pro", 12, true, 1.5, "2024-05-01", null]]})", schema), "rows");
  EXPECT_EQ(Values<int64_t>(positional.columns[4]), (std::vector<int64_t>{1714521600000000000}));
  EXPECT_EQ(positional.columns[5].nulls, std::string("\1", 1));
}

TEST(ModelInput, CsvQuotedValuesHoldCommasQuotesAndLineBreaks) {
  const ModelSchema schema = Signature(R"([{"name": "name", "type": "string"},
                                           {"name": "age", "type": "long"}])");
  ModelInput m = Ok(Conform("\"name\", age \r\n\"Smith, John\", 42\n\n"
                            "\"say \"\"hi\"\"\",+7\r\n\"two\nlines\",0",
                            schema, "text/csv"),
                    "csv");
  EXPECT_EQ(m.columns[0].data, R"("Smith, John","say \"hi\"","two\nlines")");
  EXPECT_EQ(Values<int64_t>(m.columns[1]), (std::vector<int64_t>{42, 7, 0}));
  EXPECT_EQ(Error(Conform("name,age\n\"open,1\n", schema, "text/csv"), "open"),
            "CSV line 2: a quoted value is not closed");
  EXPECT_NE(Error(Conform("name,age\n\"a\"b,1\n", schema, "text/csv"), "after")
                .find("CSV line 2: text after a closing quote"),
            std::string::npos);
  EXPECT_EQ(Error(Conform("name,age\nx,+-5\n", schema, "text/csv"), "+-"),
            "row 0, column 'age': '+-5' is not a long");
}

TEST(ConformToSchema, BinaryIsPaddedBase64AndNarrowTensorTypesKeepTheirRange) {
  const ModelSchema binary = Signature(R"([{"name": "b", "type": "binary"}])");
  Ok(Conform(R"({"instances": ["AAEC", "AA==", null]})", binary), "base64");
  for (std::string_view bad : {R"("abc")", R"("a=")", R"("-_-_")", R"("AA=A")"}) {
    EXPECT_NE(Error(Conform(fmt::format(R"({{"instances": [{}]}})", bad), binary), bad)
                  .find("is not a binary (expected padded base64)"),
              std::string::npos)
        << bad;
  }
  const ModelSchema bytes =
      Signature(R"([{"type": "tensor", "tensor-spec": {"dtype": "uint8", "shape": [-1, 2]}}])");
  Ok(Conform(R"({"instances": [[0, 255]]})", bytes), "uint8");
  EXPECT_EQ(Error(Conform(R"({"instances": [[0, 300]]})", bytes), "300"),
            "row 0, value 1: 300 is out of uint8's range [0, 255]");
  // A nested row must have the tensor's own shape: 2 x 3 is not 3 x 2, ragged is refused.
  const ModelSchema matrix = Signature(
      R"([{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 3, 2]}}])");
  EXPECT_NE(Error(Conform(R"({"instances": [[[1, 2, 3], [4, 5, 6]]]})", matrix), "2x3")
                .find("does not fit"),
            std::string::npos);
  EXPECT_NE(Error(Conform(R"({"instances": [[[1, 2], [3, [4]], [5, 6]]]})", matrix), "ragged")
                .find("row 0 is ragged"),
            std::string::npos);
  Ok(Conform(R"({"instances": [[1, 2, 3, 4, 5, 6]]})", matrix), "flat");
}

TEST(ConformToSchema, TypeErrorsNameTheRowColumnTypeAndValue) {
  const ModelSchema schema = Signature(kChurnSignature);
  auto record = [&](std::string_view fields) {
    return Error(Conform(fmt::format(R"({{"dataframe_records": [{{{}}}]}})", fields), schema),
                 fields);
  };
  const std::string rest = R"("support": true, "spend": 1)";
  EXPECT_EQ(record(R"("plan": "pro", "tenure": "forty", )" + rest),
            "row 0, column 'tenure': \"forty\" is not a long");
  EXPECT_EQ(record(R"("plan": "pro", "tenure": 3.5, )" + rest),
            "row 0, column 'tenure': 3.5 is not a long (expected a whole number)");
  EXPECT_EQ(record(R"("plan": 7, "tenure": 3, )" + rest),
            "row 0, column 'plan': 7 is not a string");
  EXPECT_EQ(record(R"("plan": "pro", "tenure": 3, "support": 1, "spend": 1)"),
            "row 0, column 'support': 1 is not a boolean (expected true or false)");
  EXPECT_EQ(record(R"("plan": "pro", "tenure": 3, "support": true, "spend": "1")"),
            "row 0, column 'spend': \"1\" is not a double");
  EXPECT_NE(
      record(R"("plan": "pro", "tenure": null, )" + rest)
          .find("row 0, column 'tenure': a value is missing, and the column is a required long"),
      std::string::npos);
  EXPECT_NE(record(R"("plan": "pro", "tenure": 1, "since": "May 1st", )" + rest)
                .find("row 0, column 'since': \"May 1st\" is not a datetime"),
            std::string::npos);
  EXPECT_EQ(record(R"("plan": "pro", "tenure": 1, "seats": 3000000000, )" + rest),
            "row 0, column 'seats': 3000000000 is not an integer (out of range)");
  EXPECT_EQ(
      Error(Conform(R"({"dataframe_records": [{"plan": "pro", "spend": 1}]})", schema), "missing"),
      "the input has no columns 'tenure' (long), 'support' (boolean); the model's columns "
      "are plan (string), tenure (long), support (boolean), spend (double), since "
      "(datetime, optional), seats (integer, optional)");
  EXPECT_NE(Error(Conform(R"({"instances": [["pro", 1]]})", schema), "unnamed")
                .find("the input has 2 unnamed values per row"),
            std::string::npos);
}

TEST(ConformToSchema, V2TakesOneInputPerColumnWithMatchingDatatypes) {
  const ModelSchema schema = Signature(kChurnSignature);
  ModelInput m = Ok(ConformV2(R"({"inputs": [
      {"name": "plan", "shape": [2], "datatype": "BYTES", "data": ["pro", "basic"]},
      {"name": "tenure", "shape": [2, 1], "datatype": "INT64", "data": [[12], [3]]},
      {"name": "support", "shape": [2], "datatype": "BOOL", "data": [true, false]},
      {"name": "spend", "shape": [2], "datatype": "FP32", "data": [1.5, 2]}]})",
                              schema),
                    "v2");
  EXPECT_EQ(m.columns[0].data, R"("pro","basic")");
  EXPECT_EQ(Values<int64_t>(m.columns[1]), (std::vector<int64_t>{12, 3}));
  EXPECT_EQ(Error(ConformV2(R"({"inputs": [
      {"name": "plan", "shape": [1], "datatype": "BYTES", "data": ["pro"]},
      {"name": "tenure", "shape": [1], "datatype": "BYTES", "data": ["12"]},
      {"name": "support", "shape": [1], "datatype": "BOOL", "data": [true]},
      {"name": "spend", "shape": [1], "datatype": "FP64", "data": [1]}]})",
                            schema),
                  "bytes for long"),
            "input 'tenure' has datatype BYTES, but column 'tenure' is long: send it as INT64");
  EXPECT_NE(ParseV2InferRequest(R"({"inputs": [
      {"name": "a", "shape": [2], "datatype": "FP64", "data": [1, 2]},
      {"name": "b", "shape": [1], "datatype": "FP64", "data": [1]}]})")
                .status()
                .message()
                .find("input 'b' has 1 rows, input 'a' has 2"),
            std::string::npos);
}

TEST(ConformToSchema, TensorSignaturesKeepTheirShape) {
  const ModelSchema schema = Signature(
      R"([{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 1, 2, 2]}}])");
  for (std::string_view body : {R"({"instances": [[[[1, 2], [3, 4]]], [[[5, 6], [7, 8]]]]})",
                                R"({"inputs": [[[[1, 2], [3, 4]]], [[[5, 6], [7, 8]]]]})",
                                R"({"instances": [[1, 2, 3, 4], [5, 6, 7, 8]]})",
                                R"({"dataframe_split": {"data": [[1, 2, 3, 4], [5, 6, 7, 8]]}})"}) {
    ModelInput m = Ok(Conform(body, schema), body);
    EXPECT_TRUE(m.tensor);
    EXPECT_EQ(m.dtype, "float32");
    EXPECT_EQ(m.row_shape, (std::vector<int64_t>{1, 2, 2})) << body;
    EXPECT_EQ(Values<float>(m.columns[0]), (std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8})) << body;
  }
  ModelInput v2 = Ok(ConformV2(R"({"inputs": [{"name": "x", "shape": [1, 1, 2, 2],
                                  "datatype": "FP32", "data": [1, 2, 3, 4]}]})",
                               schema),
                     "v2");
  EXPECT_EQ(v2.row_shape, (std::vector<int64_t>{1, 2, 2}));
  EXPECT_EQ(Error(ConformV2(R"({"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32",
                              "data": [1, 2, 3]}]})",
                            schema),
                  "v2 shape"),
            "row 0 has shape [3] (3 values), which does not fit the model's input tensor float32 "
            "[-1, 1, 2, 2]");
  EXPECT_EQ(Error(Conform(R"({"instances": [[[[1, 2], [3, "x"]]]]})", schema), "value"),
            "row 0, value 3: \"x\" is not a float");
  EXPECT_NE(
      Error(Conform(R"({"instances": [[[[1, 2], [3]]]]})", schema), "ragged").find("is ragged"),
      std::string::npos);
}

TEST(ModelSignature, RefusesWhatTheServerCannotServe) {
  auto error = [](std::string_view inputs) {
    auto s = ParseSignature(nlohmann::json::parse(inputs));
    EXPECT_FALSE(s.ok()) << inputs;
    return s.status().message();
  };
  EXPECT_NE(error(R"([{"name": "x", "type": "array"}])").find("type 'array'"), std::string::npos);
  EXPECT_NE(
      error(R"([{"type": "tensor", "name": "a", "tensor-spec": {"dtype": "float32", "shape": [-1]}},
                      {"type": "tensor", "name": "b", "tensor-spec": {"dtype": "float32", "shape": [-1]}}])")
          .find("2 tensor inputs"),
      std::string::npos);
  EXPECT_NE(error(R"([{"type": "tensor", "tensor-spec": {"dtype": "complex64", "shape": [-1]}}])")
                .find("'complex64'"),
            std::string::npos);
  EXPECT_TRUE(ParseSignature(nlohmann::json()).ok());
}

// `rows` rows of `cols` float64 values, all `value`.
ModelInput Rows(size_t rows, double value = 0, size_t cols = 1) {
  ModelInput m;
  m.rows = rows;
  m.tensor = true;
  m.dtype = "float64";
  m.row_shape = {static_cast<int64_t>(cols)};
  TypedColumn& column = m.columns.emplace_back();
  for (size_t i = 0; i < rows * cols; ++i) {
    column.data.append(reinterpret_cast<const char*>(&value), sizeof value);
  }
  return m;
}

TEST(DynamicBatcher, RefusesWithoutAReadyWorkerAndWhenTheQueueIsFull) {
  DynamicBatcher batcher({4, 1000ms, 2});
  EXPECT_EQ(batcher.Submit(Rows(1)).status().code(), StatusCode::kUnavailable);
  batcher.WorkerReady();
  auto a = batcher.Submit(Rows(1));
  auto b = batcher.Submit(Rows(1));
  ASSERT_TRUE(a.ok() && b.ok());
  auto c = batcher.Submit(Rows(1));
  EXPECT_EQ(c.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(c.status().message().find("queue is full"), std::string::npos);
  EXPECT_EQ(batcher.queue_depth(), 2u);
  // The last worker lost: the queued requests fail at once instead of waiting.
  batcher.WorkerLost(Unavailable("worker died"));
  EXPECT_EQ(a->get().status().message(), "worker died");
  EXPECT_EQ(b->get().status().message(), "worker died");
  EXPECT_EQ(batcher.queue_depth(), 0u);
}

TEST(DynamicBatcher, JoinsRequestsUpToTheMaximumAtOnceWithoutWaitingForTheDelay) {
  DynamicBatcher batcher({4, 10s, 100});
  batcher.WorkerReady();
  std::vector<std::future<Result<Prediction>>> futures;
  for (int i = 0; i < 4; ++i) {
    auto submitted = batcher.Submit(i < 3 ? Rows(1, i) : Rows(2, i));  // the last makes 5 rows
    ASSERT_TRUE(submitted.ok());
    futures.push_back(std::move(*submitted));
  }
  const auto start = std::chrono::steady_clock::now();
  auto batch = batcher.NextBatch();  // 5 rows queued >= 4: due now
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  ASSERT_EQ(batch.size(), 3u);  // the fourth does not fit and waits for the next batch
  for (size_t i = 0; i < batch.size(); ++i)
    EXPECT_EQ(Values<double>(batch[i]->input.columns[0])[0], double(i));
  EXPECT_EQ(batcher.queue_depth(), 1u);
}

TEST(DynamicBatcher, ABatchIsDueWhenTheOldestHasWaitedTheDelay) {
  somlier::testing::FakeClock clock;
  DynamicBatcher batcher({64, 30ms, 100}, clock);
  batcher.WorkerReady();
  auto first = batcher.Submit(Rows(1, 1));
  clock.Advance(20ms);
  auto second = batcher.Submit(Rows(1, 2));
  EXPECT_TRUE(batcher.TryNextBatch().empty()) << "the oldest has waited 20 of 30 ms";
  clock.Advance(9ms);
  EXPECT_TRUE(batcher.TryNextBatch().empty());
  clock.Advance(1ms);  // the oldest's delay is over: it takes the younger one along
  auto batch = batcher.TryNextBatch();
  ASSERT_EQ(batch.size(), 2u);
  EXPECT_EQ(Values<double>(batch[1]->input.columns[0])[0], 2.0);
  EXPECT_TRUE(batcher.TryNextBatch().empty());
  // An oversized request is a batch of its own, due at once.
  auto big = batcher.Submit(Rows(100));
  batch = batcher.TryNextBatch();
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_EQ(batch[0]->input.rows, 100u);
}

TEST(DynamicBatcher, AWaitingWorkerTakesItsBatchWhenTheClockReachesTheDeadline) {
  somlier::testing::FakeClock clock;
  DynamicBatcher batcher({64, 10s, 100}, clock);
  batcher.WorkerReady();
  auto f = batcher.Submit(Rows(1));
  std::atomic<bool> taken{false};
  std::thread worker([&] { taken = batcher.NextBatch().size() == 1; });
  clock.Advance(10s);  // no real 10 s pass: the worker wakes on the fake clock
  worker.join();
  EXPECT_TRUE(taken.load());
}

TEST(DynamicBatcher, OnlyRequestsWithTheSameLayoutShareABatch) {
  DynamicBatcher batcher({64, 0us, 100});
  batcher.WorkerReady();
  auto a = batcher.Submit(Rows(1));
  auto b = batcher.Submit(Rows(1, 0, 2));
  EXPECT_EQ(batcher.NextBatch().size(), 1u);
  EXPECT_EQ(batcher.NextBatch().size(), 1u);
}

TEST(DynamicBatcher, ShutdownRefusesNewRequestsAndDrainsQueuedOnes) {
  DynamicBatcher batcher({64, 10s, 100});
  batcher.WorkerReady();
  auto a = batcher.Submit(Rows(1));
  std::thread stopper([&] {
    std::this_thread::sleep_for(20ms);
    batcher.Shutdown();
  });
  auto batch = batcher.NextBatch();  // woken by the shutdown, long before the 10 s delay
  stopper.join();
  EXPECT_EQ(batch.size(), 1u);
  EXPECT_EQ(batcher.Submit(Rows(1)).status().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(batcher.NextBatch().empty());
}

TEST(ServerMetrics, RendersPrometheusText) {
  ServerMetrics metrics;
  metrics.RecordRequest("/invocations", 200);
  metrics.RecordRequest("/invocations", 400);
  metrics.RecordLatency(ServerMetrics::kInvocations, 0.003);
  metrics.RecordBatch(5);
  metrics.RecordWorkerRestart();
  const std::string text = metrics.Render(7, 1);
  for (const char* line :
       {"somlier_requests_total{path=\"/invocations\",code=\"400\"} 1",
        "somlier_request_errors_total{path=\"/invocations\"} 1",
        "somlier_request_duration_seconds_bucket{endpoint=\"invocations\",le=\"0.005\"} 1",
        "somlier_request_duration_seconds_bucket{endpoint=\"invocations\",le=\"0.002\"} 0",
        "somlier_request_duration_seconds_count{endpoint=\"invocations\"} 1",
        "somlier_batch_size_rows_bucket{le=\"8\"} 1", "somlier_batch_size_rows_sum 5",
        "somlier_queue_depth 7", "somlier_workers_ready 1", "somlier_worker_restarts_total 1"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line << "\n" << text;
  }
}

// ---- The deployment supervisor's restart policy, with fake processes and a fake clock ----

// Children that run for a few polls, then exit with a code, or on any signal.
class FakeRunner : public ProcessRunner {
 public:
  struct Child : ChildProcess {
    FakeRunner* runner = nullptr;  // outlives its children: signals are recorded there
    int polls_left = 0;
    int exit_code = 1;
    bool signalled = false;
    pid_t pid() const override { return 4242; }
    bool HasExited() override { return signalled || polls_left-- <= 0; }
    void Signal(int signal) override {
      signalled = true;
      exit_code = 128 + signal;
      runner->signals.push_back(signal);
    }
    Result<int> Wait() override { return exit_code; }
  };

  Result<std::unique_ptr<ChildProcess>> Spawn(const SpawnOptions& options) override {
    argvs.push_back(options.argv);
    auto child = std::make_unique<Child>();
    child->runner = this;
    child->polls_left = polls;
    child->exit_code = exit_code;
    return std::unique_ptr<ChildProcess>(std::move(child));
  }

  int polls = 2;
  int exit_code = 1;
  std::vector<std::vector<std::string>> argvs;
  std::vector<int> signals;  // what the children were sent, in order
};

class SupervisorTest : public ::testing::Test {
 protected:
  SupervisorOptions Options() {
    SupervisorOptions o;
    o.server_argv = {"somlier", "serve-model", "models:/m/1"};
    o.ready_file = dir_.file("ready.json");
    o.runner = &runner_;
    o.clock = &clock_;
    // Time passes only here: each wait moves the fake clock by what was asked.
    o.wait_for_stop = [this](std::chrono::milliseconds timeout) {
      waits_.push_back(timeout);
      clock_.Advance(timeout);
      return stop_after_spawns_ && runner_.argvs.size() >= stop_after_spawns_ ? SIGTERM : 0;
    };
    return o;
  }
  void Ready(int port) { std::ofstream(dir_.file("ready.json")) << "{\"port\": " << port << "}"; }

  somlier::testing::TempDir dir_;
  somlier::testing::FakeClock clock_;
  FakeRunner runner_;
  std::vector<std::chrono::milliseconds> waits_;
  size_t stop_after_spawns_ = 0;
};

TEST_F(SupervisorTest, GivesUpAfterFiveCrashesWithinAMinuteBackingOffBetween) {
  Ready(8123);
  const Status outcome = RunSupervisor(Options());
  EXPECT_EQ(outcome.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(outcome.message().find("exited 5 times within a minute (last exit code 1)"),
            std::string::npos)
      << outcome.message();
  ASSERT_EQ(runner_.argvs.size(), 5u);
  // A restarted server keeps the port the first one got.
  EXPECT_NE(std::find(runner_.argvs[4].begin(), runner_.argvs[4].end(), "8123"),
            runner_.argvs[4].end());
  std::vector<std::chrono::milliseconds> backoffs;
  for (auto w : waits_) {
    if (w != 200ms) backoffs.push_back(w);  // 200 ms: polling a running server
  }
  EXPECT_EQ(backoffs, (std::vector<std::chrono::milliseconds>{500ms, 1000ms, 2000ms, 4000ms}));
}

TEST_F(SupervisorTest, CrashesSpreadOverMoreThanAMinuteAreRestartedUntilStopped) {
  Ready(8123);
  runner_.polls = 400;  // 400 polls of 200 ms: each server runs 80 s before it crashes
  stop_after_spawns_ = 8;
  const Status outcome = RunSupervisor(Options());
  EXPECT_TRUE(outcome.ok()) << outcome.ToString();
  EXPECT_EQ(runner_.argvs.size(), 8u);
  ASSERT_FALSE(runner_.signals.empty());
  EXPECT_EQ(runner_.signals.front(), SIGTERM) << "stopping drains the running server first";
}

TEST_F(SupervisorTest, AServerThatExitsBeforeEverBeingReadyIsNotRestarted) {
  const Status outcome = RunSupervisor(Options());  // no ready file is ever written
  EXPECT_EQ(outcome.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(outcome.message().find("before it was ready"), std::string::npos);
  EXPECT_EQ(runner_.argvs.size(), 1u);
}

}  // namespace
}  // namespace somlier::serving

#include "somlier/offline/offline_predict.h"

#include <fmt/core.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "somlier/batch/dag_file.h"
#include "somlier/core/base64.h"
#include "somlier/core/time.h"
#include "somlier/serving/request_table.h"
#include "somlier/serving/schema_check.h"

namespace somlier::offline {
namespace {

using serving::BatchOutput;
using serving::ModelInput;
using serving::ModelSchema;
using serving::ModelSignature;
using serving::RequestJson;
using serving::RequestTable;

constexpr size_t kWaiting = 2;  // chunks that may wait between two stages

// The first failure of any stage, and a way for every stage to see it.
class Failure {
 public:
  void Set(Status status) {
    std::lock_guard lock(mu_);
    if (status_.ok()) status_ = std::move(status);
    failed_ = true;
  }
  bool failed() const { return failed_; }
  Status status() {
    std::lock_guard lock(mu_);
    return status_;
  }

 private:
  std::mutex mu_;
  Status status_;
  std::atomic<bool> failed_{false};
};

// A bounded hand-off between two stages. A null item is the end of the rows.
template <typename T>
class Handoff {
 public:
  // False when a stage failed (the item is dropped).
  bool Put(std::unique_ptr<T> item) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return items_.size() < kWaiting || aborted_; });
    if (aborted_) return false;
    items_.push_back(std::move(item));
    cv_.notify_all();
    return true;
  }

  // False when a stage failed; else true with the next item (null at the end).
  bool Take(std::unique_ptr<T>& item) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !items_.empty() || aborted_; });
    if (aborted_) return false;
    item = std::move(items_.front());
    items_.pop_front();
    cv_.notify_all();
    return true;
  }

  void Abort() {
    std::lock_guard lock(mu_);
    aborted_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<T>> items_;
  bool aborted_ = false;
};

struct ReadChunk {
  int64_t first_row = 0;
  RowChunk rows;
  ModelInput input;
};

struct PredictedChunk {
  RowChunk rows;  // the destination's varying columns: the input's, then the predictions
};

// Column names as SQLite and BigQuery compare them: without case.
bool SameName(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// The input columns that reach the model (see the header).
std::vector<size_t> FeatureColumns(const ModelSchema& schema, const std::vector<Column>& columns,
                                   const std::string& load_column) {
  std::vector<size_t> out;
  auto index_of = [&](const std::string& name) -> std::optional<size_t> {
    for (size_t c = 0; c < columns.size(); ++c) {
      if (columns[c].name == name) return c;
    }
    return std::nullopt;
  };
  if (schema.signature.kind == ModelSignature::Kind::kColumns) {
    for (const auto& spec : schema.signature.columns) {
      if (auto c = index_of(spec.name)) out.push_back(*c);
    }
  } else if (!schema.feature_names.empty()) {
    for (const std::string& name : schema.feature_names) {
      if (auto c = index_of(name)) out.push_back(*c);
    }
  } else {
    for (size_t c = 0; c < columns.size(); ++c) {
      if (!SameName(columns[c].name, load_column)) out.push_back(c);
    }
  }
  return out;
}

// The float64 matrix a model without a signature gets, straight from numeric cells (what
// ConformToSchema would make of them, without a JSON value per cell); nullopt when a value is
// not a number or the features do not match the model, for ConformToSchema to explain.
std::optional<ModelInput> NumericMatrix(const RowChunk& chunk, size_t width,
                                        const std::vector<size_t>& features,
                                        const std::vector<Column>& columns,
                                        const ModelSchema& schema) {
  if (schema.signature.kind != ModelSignature::Kind::kNone) return std::nullopt;
  const size_t expected =
      schema.n_features >= 0 ? static_cast<size_t>(schema.n_features) : schema.feature_names.size();
  if ((!schema.feature_names.empty() && features.size() != schema.feature_names.size()) ||
      (expected > 0 && features.size() != expected)) {
    return std::nullopt;
  }
  ModelInput input;
  input.rows = chunk.rows;
  input.tensor = true;
  input.dtype = "float64";
  input.row_shape = {static_cast<int64_t>(features.size())};
  for (size_t c : features) input.names.push_back(columns[c].name);
  serving::TypedColumn& column = input.columns.emplace_back();
  column.data.resize(chunk.rows * features.size() * sizeof(double));
  char* out = column.data.data();
  for (size_t r = 0; r < chunk.rows; ++r) {
    for (size_t c : features) {
      const SqlValue& v = chunk.cells[r * width + c];
      double value;
      if (auto* d = std::get_if<double>(&v)) {
        value = *d;
      } else if (auto* n = std::get_if<int64_t>(&v)) {
        value = static_cast<double>(*n);
      } else if (std::holds_alternative<std::monostate>(v)) {
        value = std::nan("");
      } else {
        return std::nullopt;
      }
      std::memcpy(out, &value, sizeof value);
      out += sizeof value;
    }
  }
  return input;
}

// A chunk's feature cells as the online server's parsers give them, then checked and typed.
Result<ModelInput> ToModelInput(const RowChunk& chunk, const std::vector<Column>& columns,
                                const std::vector<size_t>& features, const ModelSchema& schema,
                                int64_t first_row) {
  if (auto matrix = NumericMatrix(chunk, columns.size(), features, columns, schema)) {
    return std::move(*matrix);
  }
  auto document = std::make_shared<RequestJson>(RequestJson::array());
  auto& values = document->get_ref<RequestJson::array_t&>();
  values.reserve(chunk.rows * features.size());
  const size_t width = columns.size();
  // Booleans: a warehouse's own (PostgreSQL, BigQuery), or 0/1 where the model's signature
  // says boolean (SQLite has no boolean type).
  std::vector<bool> boolean(features.size());
  for (size_t f = 0; f < features.size(); ++f) {
    const Column& column = columns[features[f]];
    boolean[f] = column.type == ColumnType::kBoolean;
    for (const auto& spec : schema.signature.columns) {
      if (spec.name == column.name && spec.type == serving::ValueType::kBoolean) boolean[f] = true;
    }
  }
  for (size_t r = 0; r < chunk.rows; ++r) {
    for (size_t f = 0; f < features.size(); ++f) {
      const SqlValue& v = chunk.cells[r * width + features[f]];
      if (auto* n = std::get_if<int64_t>(&v); n && boolean[f] && (*n == 0 || *n == 1)) {
        values.emplace_back(*n == 1);
      } else if (auto* n = std::get_if<int64_t>(&v)) {
        values.emplace_back(*n);
      } else if (auto* d = std::get_if<double>(&v)) {
        values.emplace_back(std::isnan(*d) ? RequestJson(nullptr) : RequestJson(*d));
      } else if (auto* s = std::get_if<std::string>(&v)) {
        values.emplace_back(*s);
      } else if (auto* b = std::get_if<SqlBlob>(&v)) {
        values.emplace_back(Base64Encode(b->bytes));
      } else {
        values.emplace_back(nullptr);
      }
    }
  }
  RequestTable table;
  table.document = document;
  table.rows = chunk.rows;
  table.cols = features.size();
  for (size_t c : features) table.columns.push_back(columns[c].name);
  table.cells.resize(values.size());
  for (size_t i = 0; i < values.size(); ++i) table.cells[i].json = &values[i];
  auto input = serving::ConformToSchema(table, schema);
  if (!input.ok()) {
    return InvalidArgument(fmt::format("rows {}-{} of the input: {}", first_row + 1,
                                       first_row + static_cast<int64_t>(chunk.rows),
                                       input.status().message()));
  }
  return std::move(*input);
}

// The prediction columns a model's first answer shows: a record's by the first row where
// each is not null (a number column is real as soon as one of them is).
std::vector<Column> PredictionColumns(const BatchOutput& out) {
  std::vector<Column> columns;
  if (!out.columns.empty()) {
    for (const std::string& name : out.columns) columns.push_back({name, ColumnType::kText});
    std::vector<bool> seen(columns.size());
    for (size_t r = 0; r < out.row_count(); ++r) {
      const nlohmann::json record = nlohmann::json::parse(out.row(r), nullptr, false);
      if (!record.is_object()) continue;
      for (size_t c = 0; c < columns.size(); ++c) {
        const auto it = record.find(columns[c].name);
        if (it == record.end() || it->is_null()) continue;
        const ColumnType type = it->is_number_integer() ? ColumnType::kInteger
                                : it->is_number()       ? ColumnType::kReal
                                : it->is_boolean()      ? ColumnType::kBoolean
                                                        : ColumnType::kText;
        if (!seen[c] || (columns[c].type == ColumnType::kInteger && type == ColumnType::kReal)) {
          columns[c].type = type;
        }
        seen[c] = true;
      }
    }
    return columns;
  }
  ColumnType type = ColumnType::kText;
  if (out.row_shape.empty()) {
    const std::string& t = out.datatype;
    if (t == "FP64" || t == "FP32" || t == "FP16") type = ColumnType::kReal;
    if (t.starts_with("INT") || t.starts_with("UINT")) type = ColumnType::kInteger;
    if (t == "BOOL") type = ColumnType::kBoolean;
  }
  columns.push_back({"prediction", type});
  return columns;
}

// One predicted value (a JSON text) as a cell of `type`.
SqlValue PredictionCell(std::string_view text, ColumnType type) {
  if (text == "null") return std::monostate{};
  switch (type) {
    case ColumnType::kInteger: {
      int64_t n = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
      if (ec == std::errc() && end == text.data() + text.size()) return n;
      [[fallthrough]];
    }
    case ColumnType::kReal: {
      double d = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), d);
      if (ec == std::errc() && end == text.data() + text.size()) return d;
      break;
    }
    case ColumnType::kBoolean:
      if (text == "true") return int64_t{1};
      if (text == "false") return int64_t{0};
      break;
    default:
      break;
  }
  if (!text.empty() && text.front() == '"') {
    auto parsed = nlohmann::json::parse(text, nullptr, false);
    if (parsed.is_string()) return parsed.get<std::string>();
  }
  return std::string(text);
}

// The model's output columns must be names a warehouse takes, and none of the table's own.
Status CheckPredictionColumns(const std::vector<Column>& predictions,
                              const std::vector<Column>& inputs) {
  std::vector<std::string> taken(std::begin(kAddedColumns), std::end(kAddedColumns));
  for (const Column& c : inputs) taken.push_back(c.name);
  for (const Column& c : predictions) {
    SOMLIER_RETURN_IF_ERROR(batch::CheckColumnName("the model's output column", c.name));
    for (const std::string& other : taken) {
      if (SameName(c.name, other)) {
        return InvalidArgument(fmt::format(
            "the model's output column '{}' has the name of another column of the predictions' "
            "table ('{}')",
            c.name, other));
      }
    }
    taken.push_back(c.name);
  }
  return OkStatus();
}

std::string IsoTimestamp(int64_t seconds) { return FormatUtcIsoMillis(seconds * 1000); }

}  // namespace

Status CheckOfflinePredictRequest(const OfflinePredictRequest& r) {
  SOMLIER_RETURN_IF_ERROR(batch::CheckColumnName("--load_column", r.load_column));
  SOMLIER_RETURN_IF_ERROR(batch::ParseDate("--date", r.date).status());
  if (r.window < 1 || r.window > 366) {
    return InvalidArgument(
        fmt::format("--window {} is not a number of days from 1 to 366", r.window));
  }
  if (r.dataset.ToString() == r.destination.ToString()) {
    return InvalidArgument(
        fmt::format("--destination '{}' is the input table: predictions go to a table of their own",
                    r.destination.ToString()));
  }
  if (r.chunk_rows < 1 || r.chunk_rows > 1'000'000) {
    return InvalidArgument(fmt::format("chunk_rows {} is not from 1 to 1000000", r.chunk_rows));
  }
  return OkStatus();
}

Result<OfflinePredictResult> RunOfflinePredict(
    const OfflinePredictRequest& request, const PredictModel& model, Warehouse& warehouse,
    const serving::WorkerOptions& worker_options, int64_t now_seconds, int64_t expected_rows,
    const std::function<void(int64_t, int64_t)>& progress) {
  SOMLIER_RETURN_IF_ERROR(CheckOfflinePredictRequest(request));
  SOMLIER_ASSIGN_OR_RETURN(batch::Date date, batch::ParseDate("--date", request.date));
  OfflinePredictResult result;
  result.selected_date = batch::FormatDate(batch::AddDays(date, 1 - request.window));

  SOMLIER_RETURN_IF_ERROR(warehouse.Prepare(request.dataset, request.destination));
  SOMLIER_ASSIGN_OR_RETURN(
      auto reader, warehouse.Select(request.dataset, request.load_column, result.selected_date));
  const std::vector<Column> input_columns = reader->columns();
  if (std::none_of(input_columns.begin(), input_columns.end(),
                   [&](const Column& c) { return SameName(c.name, request.load_column); })) {
    return NotFound(fmt::format("table '{}' has no column '{}'", request.dataset.ToString(),
                                request.load_column));
  }
  for (const Column& c : input_columns) {
    for (const char* added : kAddedColumns) {
      if (SameName(c.name, added) || SameName(c.name, "prediction")) {
        return InvalidArgument(fmt::format(
            "table '{}' has a column '{}', a name the predictions' table gives its own column",
            request.dataset.ToString(), c.name));
      }
    }
  }

  // The model first: the clock runs from a loaded model to the commit, as a script's would.
  SOMLIER_ASSIGN_OR_RETURN(auto worker, serving::PythonWorker::Start(worker_options));
  const ModelSchema schema = worker->info().schema;
  const std::vector<size_t> features = FeatureColumns(schema, input_columns, request.load_column);
  const std::string predicted_at = IsoTimestamp(now_seconds);
  const auto start = std::chrono::steady_clock::now();

  Failure failure;
  Handoff<ReadChunk> to_predict;
  Handoff<PredictedChunk> to_write;
  auto fail = [&](Status status) {
    failure.Set(std::move(status));
    to_predict.Abort();
    to_write.Abort();
  };

  // A stage's unexpected exception (memory, say) fails the run, not the process.
  auto guarded = [&](auto body) {
    return [&fail, body]() mutable {
      try {
        body();
      } catch (const std::exception& e) {
        fail(Internal(fmt::format("offline predict failed: {}", e.what())));
      }
    };
  };

  std::thread read_stage(guarded([&] {
    int64_t row = 0;
    while (!failure.failed()) {
      auto chunk = std::make_unique<ReadChunk>();
      chunk->first_row = row;
      Status status = reader->Next(request.chunk_rows, chunk->rows);
      if (!status.ok()) return fail(std::move(status));
      if (chunk->rows.rows == 0) {
        to_predict.Put(nullptr);
        return;
      }
      auto input = ToModelInput(chunk->rows, input_columns, features, schema, row);
      if (!input.ok()) return fail(input.status());
      chunk->input = std::move(*input);
      row += static_cast<int64_t>(chunk->rows.rows);
      if (!to_predict.Put(std::move(chunk))) return;
    }
  }));

  // Known from the model's first answer; read by the write stage only after that chunk.
  std::vector<Column> prediction_columns;
  std::vector<Column> output_columns;
  std::thread write_stage(guarded([&] {
    std::unique_ptr<TableWriter> writer;
    int64_t written = 0;
    while (true) {
      std::unique_ptr<PredictedChunk> item;
      if (!to_write.Take(item)) return;
      if (!item) break;
      if (!writer) {
        Replacement replacement{request.destination,
                                output_columns,
                                {model.name, model.version, request.date, predicted_at},
                                "inference_date",
                                request.date};
        auto opened = warehouse.Replace(replacement);
        if (!opened.ok()) return fail(opened.status());
        writer = std::move(*opened);
      }
      Status status = writer->Append(item->rows);
      if (!status.ok()) return fail(std::move(status));
      written += static_cast<int64_t>(item->rows.rows);
      if (progress) progress(written, expected_rows);
    }
    // No rows: the date's earlier predictions go all the same (its rows may have been
    // removed since), where the destination exists.
    Status status = writer
                        ? writer->Commit()
                        : warehouse.DeleteDate(request.destination, "inference_date", request.date);
    if (!status.ok()) return fail(std::move(status));
    result.rows = written;
  }));

  // The predict stage, on this thread.
  auto predict_stage = [&] {
    while (!failure.failed()) {
      std::unique_ptr<ReadChunk> chunk;
      if (!to_predict.Take(chunk)) break;
      if (!chunk) {
        to_write.Put(nullptr);
        break;
      }
      const size_t rows = chunk->rows.rows;
      const auto shown = [&] {
        return fmt::format("rows {}-{}", chunk->first_row + 1,
                           chunk->first_row + static_cast<int64_t>(rows));
      };
      serving::BatchInput batch;
      batch.segments = {chunk->input.rows};
      batch.input = std::move(chunk->input);
      auto out = worker->Predict(batch, std::chrono::minutes(10));
      if (!out.ok()) {
        fail(out.status());
        break;
      }
      if (!out->failed.empty()) {
        fail(InvalidArgument(
            fmt::format("the model failed on {}: {}", shown(), out->failed.begin()->second)));
        break;
      }
      if (out->row_count() != rows) {
        fail(Internal(
            fmt::format("the model answered {} predictions for {} rows", out->row_count(), rows)));
        break;
      }
      if (prediction_columns.empty()) {
        prediction_columns = PredictionColumns(*out);
        if (Status named = CheckPredictionColumns(prediction_columns, input_columns); !named.ok()) {
          fail(std::move(named));
          break;
        }
        output_columns = input_columns;
        output_columns.insert(output_columns.end(), prediction_columns.begin(),
                              prediction_columns.end());
        output_columns.push_back({"model_name", ColumnType::kText});
        output_columns.push_back({"model_version", ColumnType::kText});
        output_columns.push_back({"inference_date", ColumnType::kDate});
        output_columns.push_back({"predicted_at", ColumnType::kTimestamp});
      }
      // Each row: the input's values, then the predictions (the constants are the writer's).
      auto predicted = std::make_unique<PredictedChunk>();
      predicted->rows.rows = rows;
      auto& cells = predicted->rows.cells;
      const size_t width = input_columns.size();
      cells.reserve(rows * (width + prediction_columns.size()));
      for (size_t r = 0; r < rows; ++r) {
        auto begin = chunk->rows.cells.begin() + static_cast<std::ptrdiff_t>(r * width);
        cells.insert(cells.end(), std::make_move_iterator(begin),
                     std::make_move_iterator(begin + static_cast<std::ptrdiff_t>(width)));
        const std::string_view text = out->row(r);
        if (out->columns.empty()) {
          cells.push_back(PredictionCell(text, prediction_columns.front().type));
          continue;
        }
        const auto record = nlohmann::json::parse(text, nullptr, false);
        for (const Column& c : prediction_columns) {
          cells.push_back(record.is_object() && record.contains(c.name)
                              ? PredictionCell(record[c.name].dump(), c.type)
                              : SqlValue(std::monostate{}));
        }
      }
      if (!to_write.Put(std::move(predicted))) break;
    }
  };

  guarded(predict_stage)();
  if (failure.failed()) {
    to_predict.Abort();
    to_write.Abort();
  }
  read_stage.join();
  write_stage.join();
  // The work ends with the commit; the worker's exit (Python's teardown) is not part of it.
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  worker.reset();
  if (failure.failed()) return failure.status();
  for (const Column& c : prediction_columns) result.prediction_columns.push_back(c.name);
  result.model_name = model.name;
  result.model_version = model.version;
  return result;
}

}  // namespace somlier::offline

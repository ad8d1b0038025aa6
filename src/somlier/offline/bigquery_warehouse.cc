#include "somlier/offline/bigquery_warehouse.h"

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iterator>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "somlier/artifacts/object_storage.h"
#include "somlier/core/ids.h"
#include "somlier/core/log.h"
#include "somlier/core/strings.h"
#include "somlier/core/url.h"
#include "somlier/offline/bigquery_api.h"
#include "somlier/offline/bigquery_rows.h"

namespace somlier::offline {
namespace {

using namespace bigquery;  // NOLINT: this file is the API's one user

constexpr std::string_view kScheme = "bigquery://";
constexpr std::string_view kDefaultApi = "https://bigquery.googleapis.com";
constexpr size_t kFirstPageRows = 10000;  // the page jobs.query answers with (then: Next's)
constexpr int kCommitAttempts = 4;        // a transaction aborted by a concurrent one is run again
constexpr std::string_view kStagingPrefix = "_somlier_staging_";

// tables.get: the table's schema, or nullopt when it does not exist.
Result<std::optional<Schema>> FindTable(Api& api, const TableRef& table, bool readable) {
  const std::string shown = Shown(table);
  auto answer =
      api.Call(fmt::format("read the schema of table {}", shown), "GET", TablePath(table));
  if (!answer.ok()) {
    if (answer.status().code() == StatusCode::kNotFound) return std::optional<Schema>();
    return answer.status();
  }
  SOMLIER_ASSIGN_OR_RETURN(Schema schema, ParseSchema(*answer, shown, readable));
  return std::optional<Schema>(std::move(schema));
}

Result<Schema> GetTable(Api& api, const TableRef& table, bool readable) {
  SOMLIER_ASSIGN_OR_RETURN(std::optional<Schema> schema, FindTable(api, table, readable));
  if (!schema) {
    return NotFound(
        fmt::format("table {} does not exist in BigQuery (or its dataset does not)", Shown(table)));
  }
  return std::move(*schema);
}

// ---- reading ----

class BigQueryReader final : public RowReader {
 public:
  BigQueryReader(JobPlace place, Schema schema, std::string shown)
      : place_(std::move(place)), schema_(std::move(schema)), shown_(std::move(shown)) {}

  const std::vector<Column>& columns() const override { return schema_.columns; }

  // Takes a complete answer of jobs.query or getQueryResults: its rows and the next page's
  // token.
  Status Take(const json& answer) {
    if (job_.empty()) std::tie(job_, location_) = JobOf(answer, place_);
    buffer_.clear();
    next_ = 0;
    rows_ = 0;
    const size_t n = schema_.columns.size();
    if (const json* rows = Field(answer, "rows"); rows && rows->is_array()) {
      buffer_.reserve(rows->size() * n);
      for (const json& row : *rows) {
        const json* cells = Field(row, "f");
        if (!cells || !cells->is_array() || cells->size() != n) {
          return Internal(fmt::format(
              "BigQuery answered a row of table {} that does not have its {} columns", shown_, n));
        }
        for (size_t c = 0; c < n; ++c) {
          SOMLIER_ASSIGN_OR_RETURN(
              SqlValue value, FromCell((*cells)[c], schema_.types[c], schema_.columns[c].name));
          buffer_.push_back(std::move(value));
        }
        ++rows_;
      }
    }
    std::string token = Str(answer, "pageToken");
    if (!token.empty() && token == page_token_ && rows_ == 0) {
      return Internal(fmt::format("BigQuery answered the same page of table {} twice", shown_));
    }
    page_token_ = std::move(token);
    more_ = !page_token_.empty();
    if (more_ && job_.empty()) {
      return Internal(fmt::format(
          "BigQuery answered a first page of table {} without the job reference to read more",
          shown_));
    }
    return OkStatus();
  }

  Status Next(size_t max_rows, RowChunk& chunk) override {
    chunk.rows = 0;
    chunk.cells.clear();
    const size_t n = schema_.columns.size();
    while (chunk.rows < max_rows) {
      if (next_ < rows_) {
        const size_t take = std::min(max_rows - chunk.rows, rows_ - next_);
        auto first = buffer_.begin() + static_cast<std::ptrdiff_t>(next_ * n);
        chunk.cells.insert(chunk.cells.end(), std::make_move_iterator(first),
                           std::make_move_iterator(first + static_cast<std::ptrdiff_t>(take * n)));
        next_ += take;
        chunk.rows += take;
        continue;
      }
      if (!more_) break;
      buffer_.clear();  // one page in memory at a time
      SOMLIER_ASSIGN_OR_RETURN(
          json answer, place_.api->Call(fmt::format("read the rows of table {}", shown_), "GET",
                                        ResultsPath(place_, job_, location_,
                                                    std::max<size_t>(max_rows, 1), page_token_)));
      if (!IsTrue(answer, "jobComplete")) {  // BigQuery held the request: ask again
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        continue;
      }
      SOMLIER_RETURN_IF_ERROR(Take(answer));
    }
    return OkStatus();
  }

 private:
  JobPlace place_;
  Schema schema_;
  std::string shown_;
  std::string job_;
  std::string location_;
  std::string page_token_;
  bool more_ = false;
  std::vector<SqlValue> buffer_;  // rows_ rows of the current page; next_ is the first unread
  size_t rows_ = 0;
  size_t next_ = 0;
};

// ---- writing ----

class BigQueryWriter final : public TableWriter {
 public:
  BigQueryWriter(JobPlace place, std::string warehouse, Replacement replacement, TableRef staging)
      : place_(std::move(place)),
        warehouse_(std::move(warehouse)),
        r_(std::move(replacement)),
        staging_(std::move(staging)) {
    for (const Column& c : r_.columns) {
      std::string key;
      AppendJsonString(key, c.name);
      keys_.push_back(key + ":");
    }
  }

  ~BigQueryWriter() override {
    if (!dropped_) DropStaging();
  }

  Status Append(const RowChunk& chunk) override {
    if (committed_) return FailedPrecondition("the BigQuery writer has already committed");
    const size_t n = r_.varying();
    if (chunk.cells.size() != chunk.rows * n) {
      return Internal(fmt::format("a chunk of {} rows has {} cells, not {} per row", chunk.rows,
                                  chunk.cells.size(), n));
    }
    if (chunk.rows == 0) return OkStatus();
    const std::string what = fmt::format("load {} rows into the staging table {} (for {})",
                                         chunk.rows, Shown(staging_), Shown(r_.table));
    const std::string job_id = "somlier_load_" + NewRunId();
    json load = {
        {"destinationTable",
         {{"projectId", staging_.project},
          {"datasetId", staging_.dataset},
          {"tableId", staging_.table}}},
        {"sourceFormat", "NEWLINE_DELIMITED_JSON"},
        {"schema", {{"fields", Fields()}}},
        {"writeDisposition", "WRITE_APPEND"},
        {"createDisposition", "CREATE_IF_NEEDED"},
    };
    json job = {{"jobReference", {{"projectId", place_.project}, {"jobId", job_id}}},
                {"configuration", {{"load", std::move(load)}}}};
    if (!place_.location.empty()) job["jobReference"]["location"] = place_.location;

    // multipart/related: the job, then the rows (RFC 2387, as Google's upload protocol takes).
    const std::string boundary = "somlier_" + NewRunId();
    std::string body = fmt::format(
        "--{}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{}\r\n--{}\r\n"
        "Content-Type: application/octet-stream\r\n\r\n",
        boundary, Dump(job), boundary);
    for (size_t row = 0; row < chunk.rows; ++row) {
      body += '{';
      bool first = true;
      for (size_t c = 0; c < r_.columns.size(); ++c) {
        const SqlValue& v = c < n ? chunk.cells[row * n + c] : r_.constants[c - n];
        if (std::holds_alternative<std::monostate>(v)) continue;
        if (!first) body += ',';
        first = false;
        body += keys_[c];
        SOMLIER_RETURN_IF_ERROR(
            AppendValue(body, v, r_.columns[c].type, r_.columns[c].name, rows_ + row));
      }
      body += "}\n";
    }
    body += fmt::format("\r\n--{}--\r\n", boundary);

    const std::string path =
        fmt::format("/upload/bigquery/v2/projects/{}/jobs?uploadType=multipart",
                    PercentEncode(place_.project, false));
    auto answer =
        place_.api->Call(what, "POST", path, body, "multipart/related; boundary=" + boundary);
    json started;
    if (answer.ok()) {
      started = std::move(*answer);
    } else if (answer.status().code() != StatusCode::kAlreadyExists) {
      return answer.status();
    }  // else: a retry found the job its first attempt started (the id is ours)
    if (!Field(started, "jobReference")) {
      started["jobReference"] = job["jobReference"];
    }
    SOMLIER_RETURN_IF_ERROR(WaitForJob(place_, what, std::move(started), job_id));
    rows_ += chunk.rows;
    return OkStatus();
  }

  Status Commit() override {
    if (committed_) return OkStatus();
    const std::string shown = Shown(r_.table);
    // The destination as it is now: its columns, and the type of its date column.
    SOMLIER_ASSIGN_OR_RETURN(std::optional<Schema> existing,
                             FindTable(*place_.api, r_.table, /*readable=*/false));
    if (existing) {
      std::vector<std::string> names;
      for (const Column& c : existing->columns) names.push_back(c.name);
      SOMLIER_RETURN_IF_ERROR(CheckHasColumns(r_, names, warehouse_));
    }
    SOMLIER_ASSIGN_OR_RETURN(
        DateFilter filter,
        DateCondition(existing ? *existing : SchemaOf(r_.columns), r_.date_column, shown));

    std::vector<std::string> definitions;
    std::vector<std::string> names;
    bool partition = false;
    for (const Column& c : r_.columns) {
      definitions.push_back(fmt::format("{} {}", Quote(c.name), DdlType(c.type)));
      names.push_back(Quote(c.name));
      partition = partition || (c.name == r_.date_column && c.type == ColumnType::kDate);
    }
    const std::string table = SqlName(r_.table);
    const std::string list = Join(names, ", ");
    const std::string script = fmt::format(
        "CREATE TABLE IF NOT EXISTS {} ({}){};\n"
        "BEGIN TRANSACTION;\n"
        "DELETE FROM {} WHERE {};\n"
        "INSERT INTO {} ({}) SELECT {} FROM {};\n"
        "COMMIT TRANSACTION;",
        table, Join(definitions, ", "), partition ? " PARTITION BY " + Quote(r_.date_column) : "",
        table, filter.condition, table, list, list, SqlName(staging_));
    const std::string what = fmt::format("replace the rows of {} of table {}", r_.date, shown);
    for (int attempt = 1;; ++attempt) {
      auto done = RunQuery(place_, what, script, filter, r_.date, 1);
      Status status = done.status();
      if (status.ok()) {
        // The job's own status, too: a script's failure is there whatever its results say.
        const auto [job, location] = JobOf(*done, place_);
        if (!job.empty()) {
          json reference = {{"jobReference", {{"jobId", job}, {"location", location}}}};
          status = WaitForJob(place_, what, std::move(reference), job);
        }
      }
      if (status.ok()) break;
      // Another transaction on the table won: BigQuery aborted this one whole; run it again.
      if (attempt >= kCommitAttempts ||
          ToLower(status.message()).find("concurrent update") == std::string::npos) {
        return status;
      }
      LogInfo("bigquery: {}; trying again", status.message());
      std::this_thread::sleep_for(std::chrono::seconds(2) * (1 << (attempt - 1)));
    }
    committed_ = true;
    DropStaging();
    return OkStatus();
  }

 private:
  json Fields() const {
    json fields = json::array();
    for (const Column& c : r_.columns) {
      fields.push_back(
          {{"name", c.name}, {"type", std::string(LoadType(c.type))}, {"mode", "NULLABLE"}});
    }
    return fields;
  }

  // Best effort: what is left expires within a day anyway.
  void DropStaging() {
    dropped_ = true;
    auto gone = place_.api->Call(fmt::format("delete the staging table {}", Shown(staging_)),
                                 "DELETE", TablePath(staging_));
    if (!gone.ok() && gone.status().code() != StatusCode::kNotFound) {
      LogWarning("{} (it expires by itself within a day)", gone.status().message());
    }
  }

  JobPlace place_;
  std::string warehouse_;
  Replacement r_;
  TableRef staging_;
  std::vector<std::string> keys_;  // each column's name as a JSON key, with its ':'
  size_t rows_ = 0;                // appended so far
  bool committed_ = false;
  bool dropped_ = false;
};

// ---- the warehouse ----

class BigQueryWarehouse final : public Warehouse {
 public:
  BigQueryWarehouse(std::string url, JobPlace place)
      : url_(std::move(url)), place_(std::move(place)) {}

  std::string name() const override { return url_; }

  Result<std::unique_ptr<RowReader>> Select(const TableRef& ref, const std::string& column,
                                            const std::string& date) override {
    SOMLIER_ASSIGN_OR_RETURN(TableRef table, Resolve(ref));
    SOMLIER_RETURN_IF_ERROR(CheckDate(date));
    const std::string shown = Shown(table);
    SOMLIER_ASSIGN_OR_RETURN(Schema schema, GetTable(*place_.api, table, /*readable=*/true));
    SOMLIER_ASSIGN_OR_RETURN(DateFilter filter, DateCondition(schema, column, shown));
    SOMLIER_ASSIGN_OR_RETURN(
        json answer,
        RunQuery(place_, fmt::format("read the rows of {} of table {}", date, shown),
                 fmt::format("SELECT * FROM {} WHERE {}", SqlName(table), filter.condition), filter,
                 date, kFirstPageRows));
    const json* answered = Field(answer, "schema");
    if (const json* fields = answered ? Field(*answered, "fields") : nullptr;
        fields && fields->is_array() && fields->size() != schema.columns.size()) {
      return Unavailable(
          fmt::format("table {} changed while it was read ({} columns, then {}): run again", shown,
                      schema.columns.size(), fields->size()));
    }
    auto reader = std::make_unique<BigQueryReader>(place_, std::move(schema), shown);
    SOMLIER_RETURN_IF_ERROR(reader->Take(answer));
    return std::unique_ptr<RowReader>(std::move(reader));
  }

  Result<int64_t> Count(const TableRef& ref, const std::string& column,
                        const std::string& date) override {
    SOMLIER_ASSIGN_OR_RETURN(TableRef table, Resolve(ref));
    SOMLIER_RETURN_IF_ERROR(CheckDate(date));
    const std::string shown = Shown(table);
    SOMLIER_ASSIGN_OR_RETURN(Schema schema, GetTable(*place_.api, table, /*readable=*/false));
    SOMLIER_ASSIGN_OR_RETURN(DateFilter filter, DateCondition(schema, column, shown));
    SOMLIER_ASSIGN_OR_RETURN(
        json answer,
        RunQuery(place_, fmt::format("count the rows of {} of table {}", date, shown),
                 fmt::format("SELECT COUNT(*) FROM {} WHERE {}", SqlName(table), filter.condition),
                 filter, date, 1));
    const json* rows = Field(answer, "rows");
    const json* cells =
        rows && rows->is_array() && rows->size() == 1 ? Field((*rows)[0], "f") : nullptr;
    if (cells && cells->is_array() && cells->size() == 1) {
      auto value = FromCell((*cells)[0], "INTEGER", "COUNT(*)");
      if (value.ok() && std::holds_alternative<int64_t>(*value)) return std::get<int64_t>(*value);
    }
    return Internal(fmt::format("BigQuery answered the count of table {} without one", shown));
  }

  Status DeleteDate(const TableRef& ref, const std::string& date_column,
                    const std::string& date) override {
    SOMLIER_ASSIGN_OR_RETURN(TableRef table, Resolve(ref));
    SOMLIER_RETURN_IF_ERROR(CheckDate(date));
    const std::string shown = Shown(table);
    SOMLIER_ASSIGN_OR_RETURN(std::optional<Schema> schema,
                             FindTable(*place_.api, table, /*readable=*/false));
    if (!schema) return OkStatus();
    SOMLIER_ASSIGN_OR_RETURN(DateFilter filter, DateCondition(*schema, date_column, shown));
    return RunQuery(place_, fmt::format("delete the rows of {} of table {}", date, shown),
                    fmt::format("DELETE FROM {} WHERE {}", SqlName(table), filter.condition),
                    filter, date, 1)
        .status();
  }

  Result<std::unique_ptr<TableWriter>> Replace(const Replacement& replacement) override {
    Replacement r = replacement;
    SOMLIER_ASSIGN_OR_RETURN(r.table, Resolve(replacement.table));
    SOMLIER_RETURN_IF_ERROR(CheckDate(r.date));
    if (r.columns.empty()) {
      return InvalidArgument(fmt::format("no columns to write to table {}", Shown(r.table)));
    }
    const std::string shown = Shown(r.table);
    // An existing destination must have every column; checked again by Commit().
    SOMLIER_ASSIGN_OR_RETURN(std::optional<Schema> existing,
                             FindTable(*place_.api, r.table, /*readable=*/false));
    if (existing) {
      std::vector<std::string> names;
      for (const Column& c : existing->columns) names.push_back(c.name);
      SOMLIER_RETURN_IF_ERROR(CheckHasColumns(r, names, name()));
    }
    SOMLIER_RETURN_IF_ERROR(
        DateCondition(existing ? *existing : SchemaOf(r.columns), r.date_column, shown).status());

    TableRef staging = r.table;
    staging.table = fmt::format("{}{}_{}", kStagingPrefix, r.table.table.substr(0, 900),
                                NewRunId().substr(0, 16));
    json fields = json::array();
    for (const Column& c : r.columns) {
      fields.push_back(
          {{"name", c.name}, {"type", std::string(LoadType(c.type))}, {"mode", "NULLABLE"}});
    }
    const int64_t expires =
        std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::system_clock::now().time_since_epoch() + std::chrono::hours(24))
            .count();
    const json table = {
        {"tableReference",
         {{"projectId", staging.project},
          {"datasetId", staging.dataset},
          {"tableId", staging.table}}},
        {"schema", {{"fields", std::move(fields)}}},
        {"expirationTime", std::to_string(expires)},
        {"description", fmt::format("SoMLier offline predict: the rows of {} for {}, until they "
                                    "replace that date's (then deleted; else expires in a day)",
                                    r.date, shown)},
    };
    auto created =
        place_.api->Call(fmt::format("create the staging table {} (for {})", Shown(staging), shown),
                         "POST", TablesPath(staging), Dump(table));
    // AlreadyExists: a retry found the table its first attempt created (the name is random).
    if (!created.ok() && created.status().code() != StatusCode::kAlreadyExists) {
      return created.status();
    }
    return std::unique_ptr<TableWriter>(
        std::make_unique<BigQueryWriter>(place_, name(), std::move(r), std::move(staging)));
  }

 private:
  Result<TableRef> Resolve(const TableRef& table) const {
    if (table.dataset.empty()) {
      return InvalidArgument(
          fmt::format("table '{}' has no dataset: BigQuery names tables dataset.table or "
                      "project.dataset.table ({})",
                      table.ToString(), url_));
    }
    TableRef resolved = table;
    if (resolved.project.empty()) resolved.project = place_.project;
    return resolved;
  }

  std::string url_;
  JobPlace place_;
};

bool IsProjectId(std::string_view s) {
  if (s.size() < 6 || s.size() > 30 || !(s.front() >= 'a' && s.front() <= 'z') || s.back() == '-') {
    return false;
  }
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

bool IsLocation(std::string_view s) {
  return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
  });
}

}  // namespace

Result<std::unique_ptr<Warehouse>> OpenBigQueryWarehouse(const std::string& url,
                                                         const Environment& env) {
  const std::string shown_url = url.substr(0, 300);
  if (!url.starts_with(kScheme)) {
    return InvalidArgument(fmt::format(
        "warehouse '{}' is not bigquery://PROJECT (optionally ?location=LOCATION)", shown_url));
  }
  std::string_view rest = std::string_view(url).substr(kScheme.size());
  std::string_view query;
  if (const size_t mark = rest.find('?'); mark != std::string_view::npos) {
    query = rest.substr(mark + 1);
    rest = rest.substr(0, mark);
  }
  if (rest.ends_with('/')) rest.remove_suffix(1);
  if (!IsProjectId(rest)) {
    return InvalidArgument(fmt::format(
        "warehouse '{}': '{}' is not a project id (6-30 lowercase letters, digits and '-', "
        "starting with a letter): give bigquery://PROJECT",
        shown_url, rest.substr(0, 100)));
  }
  JobPlace place;
  place.project = std::string(rest);
  for (const std::string& parameter : Split(query, '&')) {
    if (parameter.empty()) continue;
    if (parameter.starts_with("location=") && IsLocation(parameter.substr(9))) {
      place.location = parameter.substr(9);
      continue;
    }
    return InvalidArgument(fmt::format(
        "warehouse '{}': '{}' is not location=LOCATION (like US, EU or europe-west1), the one "
        "setting a bigquery:// URL takes",
        shown_url, parameter.substr(0, 100)));
  }

  const std::string api_url = Lookup(env, "SOMLIER_BIGQUERY_API_URL");
  const std::string emulator = Lookup(env, "BIGQUERY_EMULATOR_HOST");
  std::string base(kDefaultApi);
  std::string_view variable = "SOMLIER_BIGQUERY_API_URL";
  if (!api_url.empty()) {
    base = api_url;
  } else if (!emulator.empty()) {
    base = emulator.find("://") == std::string::npos ? "http://" + emulator : emulator;
    variable = "BIGQUERY_EMULATOR_HOST";
  }
  const std::optional<UrlParts> parts = SplitUrl(base);
  if (!parts || !(base.starts_with("http://") || base.starts_with("https://")) ||
      parts->path.find('?') != std::string::npos) {
    return InvalidArgument(
        fmt::format("{} '{}' is not an http(s) URL like https://bigquery.googleapis.com", variable,
                    RedactUrlCredentials(base.substr(0, 300))));
  }
  std::string prefix = parts->path;
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  const bool authenticated = emulator.empty();
  if (authenticated && base.starts_with("http://") &&
      !IsLoopback(parts->origin.substr(std::string_view("http://").size()))) {
    return FailedPrecondition(fmt::format(
        "{} '{}' is plain http: the access token would travel in clear text; use https (or "
        "BIGQUERY_EMULATOR_HOST for an emulator, which gets no credentials)",
        variable, RedactUrlCredentials(base.substr(0, 300))));
  }
  place.api = std::make_shared<Api>(parts->origin, std::move(prefix), authenticated, env);
  SOMLIER_RETURN_IF_ERROR(place.api->Authenticate());
  return std::unique_ptr<Warehouse>(std::make_unique<BigQueryWarehouse>(url, std::move(place)));
}

}  // namespace somlier::offline

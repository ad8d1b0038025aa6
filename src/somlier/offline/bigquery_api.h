// BigQuery's REST API (v2) as the bigquery:// warehouse (offline/bigquery_warehouse.h) calls
// it: one authenticated JSON request at a time (`Api`: a service-account or gcloud token for
// BigQuery's scope, renewed after 30 minutes or on a 401, sent only in the Authorization
// header; answers read up to 64 MiB; unreachable, 5xx and rate-limit answers tried again up
// to three times, every request being safe to repeat), queries run to completion with one
// named @date parameter, and load jobs waited for. BigQuery's error JSON becomes a Status
// naming what was being done. Internal to src/somlier/offline. Thread-safe.
#pragma once

#include <fmt/core.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>

#include "somlier/artifacts/object_storage.h"
#include "somlier/core/result.h"
#include "somlier/core/settings.h"

namespace somlier::offline::bigquery {

using nlohmann::json;
using SteadyTime = std::chrono::steady_clock;

inline constexpr std::string_view kScope = "https://www.googleapis.com/auth/bigquery";
inline constexpr size_t kMaxAnswerBytes = size_t{64} << 20;
inline constexpr int kConnectSeconds = 10;
inline constexpr int kReadSeconds = 60;
inline constexpr int kRetries = 3;  // after the first attempt; waits of 0.5, 1 and 2 s
inline constexpr auto kTokenLifetime = std::chrono::minutes(30);  // Google's live an hour
inline constexpr int kHoldMs = 10000;  // timeoutMs: how long BigQuery holds a query request
inline constexpr auto kMaxJobWait = std::chrono::hours(6);  // BigQuery's limit for a query
inline constexpr size_t kMaxMessage = 2000;                 // of BigQuery's messages quoted in ours

std::string Dump(const json& value);

// ---- reading BigQuery's JSON without throwing ----
const json* Field(const json& value, std::string_view key);

std::string Str(const json& value, std::string_view key);

bool IsTrue(const json& value, std::string_view key);

std::string Cut(std::string text);

// ---- HTTP ----
// What one request got.
struct Sent {
  bool reached = false;
  bool too_long = false;
  std::string error;  // when not reached
  int status = 0;
  std::string body;
};

// localhost, 127.x or [::1], with or without a port: where a token may go over plain http.
bool IsLoopback(std::string host);

// BigQuery's REST API at one base URL, with the credentials for it. Thread-safe: requests
// use connections of their own; the token is behind a mutex.
class Api {
 public:
  Api(std::string origin, std::string prefix, bool authenticated, Environment env)
      : origin_(std::move(origin)),
        prefix_(std::move(prefix)),
        authenticated_(authenticated),
        env_(std::move(env)) {}

  // Fetches the first token now, so that missing credentials fail before any work.
  Status Authenticate();

  // One request; `what` completes "BigQuery refused to ..." ("read the schema of table
  // p.d.t"). Answers the JSON body of a 2xx answer (null when empty); any other answer is the
  // Status its HTTP status and BigQuery's error message make. Failures that may pass are
  // retried: every request made here is safe to repeat.
  Result<json> Call(std::string_view what, std::string_view method, const std::string& path,
                    const std::string& body = "",
                    const std::string& content_type = "application/json");

 private:
  // The Status of an HTTP error answer, and whether it may pass.
  static std::pair<Status, bool> HttpError(std::string_view what, int http, const json& body);

  Result<std::string> Token(bool renew);

  Sent Send(std::string_view method, const std::string& path, const std::string& body,
            const std::string& content_type, const std::string& token) const;

  const std::string origin_;
  const std::string prefix_;
  const bool authenticated_;
  const Environment env_;
  std::mutex mutex_;
  std::string token_;
  SteadyTime::time_point fetched_{};
};

// The condition that selects `date`'s rows by `column`, and the type of its @date parameter.
struct DateFilter {
  std::string condition;
  std::string parameter_type;
};

// Where the jobs run: the warehouse's project (which pays for them) and location.
struct JobPlace {
  std::shared_ptr<Api> api;
  std::string project;
  std::string location;  // empty: BigQuery's choice (the data's)

  std::string QueriesPath() const {
    return fmt::format("/bigquery/v2/projects/{}/queries", PercentEncode(project, false));
  }
};

// A job's id and location from an answer's jobReference (the configured location when the
// answer names none).
std::pair<std::string, std::string> JobOf(const json& answer, const JobPlace& place);

std::string RequestId();

// The path of getQueryResults for `job`: the next `max_results` rows after `page_token`.
std::string ResultsPath(const JobPlace& place, const std::string& job, const std::string& location,
                        size_t max_results, const std::string& page_token);

// Runs a standard-SQL query (or script) with one named parameter @date and answers its
// results' first page (up to `max_results` rows) once the job is complete.
Result<json> RunQuery(const JobPlace& place, std::string_view what, const std::string& sql,
                      const DateFilter& filter, const std::string& date, size_t max_results);

// Waits for a job (a load job) to be DONE; its failure as a Status naming `what`.
Status WaitForJob(const JobPlace& place, std::string_view what, json job, const std::string& id);

}  // namespace somlier::offline::bigquery

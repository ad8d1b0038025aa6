#include "somlier/offline/bigquery_api.h"

#include <fmt/core.h>
#include <httplib.h>

#include <algorithm>
#include <thread>
#include <tuple>
#include <vector>

#include "somlier/artifacts/object_storage.h"
#include "somlier/core/ids.h"
#include "somlier/core/json_parse.h"
#include "somlier/core/log.h"
#include "somlier/core/strings.h"

namespace somlier::offline::bigquery {

std::string Dump(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

const json* Field(const json& value, std::string_view key) {
  if (!value.is_object()) return nullptr;
  const auto it = value.find(key);
  return it == value.end() ? nullptr : &*it;
}

std::string Str(const json& value, std::string_view key) {
  const json* field = Field(value, key);
  return field && field->is_string() ? field->get<std::string>() : std::string();
}

bool IsTrue(const json& value, std::string_view key) {
  const json* field = Field(value, key);
  return field && field->is_boolean() && field->get<bool>();
}

std::string Cut(std::string text) {
  if (text.size() > kMaxMessage) text = text.substr(0, kMaxMessage) + "...";
  return text;
}

bool IsLoopback(std::string host) {
  if (const size_t colon = host.rfind(':');
      colon != std::string::npos && host.find(']') == std::string::npos) {
    host = host.substr(0, colon);  // host:port
  } else if (const size_t bracket = host.find("]:"); bracket != std::string::npos) {
    host = host.substr(0, bracket + 1);  // [v6]:port
  }
  const bool ipv4_loopback =
      host.starts_with("127.") && host.find_first_not_of("0123456789.") == std::string::npos;
  return host == "localhost" || ipv4_loopback || host == "[::1]";
}

Status Api::Authenticate() {
  if (!authenticated_) return OkStatus();
  return Token(false).status();
}

Result<json> Api::Call(std::string_view what, std::string_view method, const std::string& path,
                       const std::string& body, const std::string& content_type) {
  bool renewed = false;
  for (int attempt = 0;; ++attempt) {
    std::string token;
    if (authenticated_) {
      SOMLIER_ASSIGN_OR_RETURN(token, Token(false));
    }
    const Sent sent = Send(method, path, body, content_type, token);
    token.clear();
    if (sent.too_long) {
      return Unavailable(
          fmt::format("BigQuery answered more than {} MiB to {}", kMaxAnswerBytes >> 20, what));
    }
    Status status;
    bool retry = false;
    if (!sent.reached) {
      status = Unavailable(
          fmt::format("cannot reach BigQuery at {} to {}: {}", origin_, what, sent.error));
      retry = true;
    } else if (sent.status >= 200 && sent.status < 300) {
      if (Trim(sent.body).empty()) return json();
      json answer = ParseJsonOrNull(sent.body);
      if (answer.is_discarded() || answer.is_null()) {
        return Unavailable(
            fmt::format("BigQuery answered HTTP {} to {} without JSON", sent.status, what));
      }
      return answer;
    } else if (sent.status == 401 && authenticated_ && !renewed) {
      renewed = true;  // the token may have expired early: one more try with a new one
      SOMLIER_RETURN_IF_ERROR(Token(true).status());
      --attempt;
      continue;
    } else {
      const json error = ParseJsonOrNull(sent.body);
      std::tie(status, retry) = HttpError(what, sent.status, error);
    }
    if (!retry || attempt >= kRetries) return status;
    LogDebug("bigquery: {}; trying again", status.message());
    std::this_thread::sleep_for(std::chrono::milliseconds(500) * (1 << attempt));
  }
}

std::pair<Status, bool> Api::HttpError(std::string_view what, int http, const json& body) {
  const json* error = Field(body, "error");
  std::string message = error ? Str(*error, "message") : "";
  std::string reason;
  if (const json* errors = error ? Field(*error, "errors") : nullptr;
      errors && errors->is_array() && !errors->empty()) {
    reason = Str((*errors)[0], "reason");
  }
  if (message.empty()) message = "(no message)";
  message = Cut(std::move(message));
  const bool transient = http == 429 || http >= 500 || reason == "rateLimitExceeded" ||
                         reason == "backendError" || reason == "internalError";
  const std::string text =
      http >= 500 ? fmt::format("BigQuery failed to {} (HTTP {}): {}", what, http, message)
                  : fmt::format("BigQuery refused to {} (HTTP {}): {}", what, http, message);
  if (transient) return {Unavailable(text), true};
  switch (http) {
    case 400:
      return {InvalidArgument(text), false};
    case 401:
    case 403:
      return {FailedPrecondition(text), false};
    case 404:
      return {NotFound(text), false};
    case 409:
      return {AlreadyExists(text), false};
    case 412:
      return {FailedPrecondition(text), false};
    case 413:
      return {InvalidArgument(text), false};
    default:
      return {Internal(text), false};
  }
}

Result<std::string> Api::Token(bool renew) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (renew || token_.empty() || SteadyTime::now() - fetched_ > kTokenLifetime) {
    token_.clear();
    SOMLIER_ASSIGN_OR_RETURN(token_, GoogleAccessToken(env_, kScope));
    fetched_ = SteadyTime::now();
  }
  return token_;
}

Sent Api::Send(std::string_view method, const std::string& path, const std::string& body,
               const std::string& content_type, const std::string& token) const {
  Sent sent;
  httplib::Client client(origin_);
  client.set_connection_timeout(kConnectSeconds, 0);
  client.set_read_timeout(kReadSeconds, 0);
  client.set_write_timeout(kReadSeconds, 0);
  client.set_follow_location(false);  // the token goes to this host only
  httplib::Request request;
  request.method = std::string(method);
  request.path = prefix_ + path;
  request.set_header("Accept", "application/json");
  if (!token.empty()) request.set_header("Authorization", "Bearer " + token);
  if (method == "POST") {
    request.body = body;
    request.set_header("Content-Type", content_type);
  }
  request.content_receiver = [&sent](const char* data, size_t size, uint64_t, uint64_t) {
    if (sent.body.size() + size > kMaxAnswerBytes) {
      sent.too_long = true;
      return false;
    }
    sent.body.append(data, size);
    return true;
  };
  httplib::Response response;
  httplib::Error error = httplib::Error::Success;
  sent.reached = client.send(request, response, error);
  if (!sent.reached) sent.error = httplib::to_string(error);
  sent.status = response.status;
  return sent;
}

std::pair<std::string, std::string> JobOf(const json& answer, const JobPlace& place) {
  const json* reference = Field(answer, "jobReference");
  if (reference == nullptr) return {"", place.location};
  std::string location = Str(*reference, "location");
  return {Str(*reference, "jobId"), location.empty() ? place.location : location};
}

std::string RequestId() {
  const std::string hex = NewRunId();  // 32 random hex digits, as a UUID's 8-4-4-4-12
  return fmt::format("{}-{}-{}-{}-{}", hex.substr(0, 8), hex.substr(8, 4), hex.substr(12, 4),
                     hex.substr(16, 4), hex.substr(20));
}

std::string ResultsPath(const JobPlace& place, const std::string& job, const std::string& location,
                        size_t max_results, const std::string& page_token) {
  std::string path =
      fmt::format("{}/{}?maxResults={}&timeoutMs={}&formatOptions.useInt64Timestamp=true",
                  place.QueriesPath(), PercentEncode(job, false), max_results, kHoldMs);
  if (!location.empty()) path += "&location=" + PercentEncode(location, false);
  if (!page_token.empty()) path += "&pageToken=" + PercentEncode(page_token, false);
  return path;
}

Result<json> RunQuery(const JobPlace& place, std::string_view what, const std::string& sql,
                      const DateFilter& filter, const std::string& date, size_t max_results) {
  json request = {
      {"query", sql},
      {"useLegacySql", false},
      {"parameterMode", "NAMED"},
      {"queryParameters", json::array({{{"name", "date"},
                                        {"parameterType", {{"type", filter.parameter_type}}},
                                        {"parameterValue", {{"value", date}}}}})},
      {"maxResults", max_results},
      {"timeoutMs", kHoldMs},
      {"formatOptions", {{"useInt64Timestamp", true}}},
      {"requestId", RequestId()},
  };
  if (!place.location.empty()) request["location"] = place.location;
  SOMLIER_ASSIGN_OR_RETURN(json answer,
                           place.api->Call(what, "POST", place.QueriesPath(), Dump(request)));
  const auto deadline = SteadyTime::now() + kMaxJobWait;
  auto pause = std::chrono::milliseconds(100);
  while (!IsTrue(answer, "jobComplete")) {
    const auto [job, location] = JobOf(answer, place);
    if (job.empty()) {
      return Internal(fmt::format(
          "BigQuery answered an incomplete query (to {}) without a job reference", what));
    }
    if (SteadyTime::now() > deadline) {
      return Unavailable(fmt::format("BigQuery's job {} (to {}) is not done after {} hours", job,
                                     what, kMaxJobWait.count()));
    }
    std::this_thread::sleep_for(pause);  // BigQuery holds each poll itself; emulators may not
    pause = std::min(pause * 2, std::chrono::milliseconds(1000));
    SOMLIER_ASSIGN_OR_RETURN(
        answer, place.api->Call(what, "GET", ResultsPath(place, job, location, max_results, "")));
  }
  return answer;
}

Status WaitForJob(const JobPlace& place, std::string_view what, json job, const std::string& id) {
  const auto deadline = SteadyTime::now() + kMaxJobWait;
  auto pause = std::chrono::milliseconds(100);
  std::string location = JobOf(job, place).second;
  for (;;) {
    const json* status = Field(job, "status");
    if (status && Str(*status, "state") == "DONE") {
      const json* result = Field(*status, "errorResult");
      if (result == nullptr || result->is_null()) return OkStatus();
      std::vector<std::string> messages = {Str(*result, "message")};
      if (const json* errors = Field(*status, "errors"); errors && errors->is_array()) {
        for (const json& e : *errors) {
          std::string m = Str(e, "message");
          if (!m.empty() && messages.size() < 4 &&
              std::find(messages.begin(), messages.end(), m) == messages.end()) {
            messages.push_back(std::move(m));
          }
        }
      }
      const std::string reason = Str(*result, "reason");
      const std::string text =
          Cut(fmt::format("BigQuery's job {} to {} failed{}: {}", id, what,
                          reason.empty() ? "" : " (" + reason + ")", Join(messages, "; ")));
      if (reason == "notFound") return NotFound(text);
      if (reason == "accessDenied") return FailedPrecondition(text);
      if (reason == "backendError" || reason == "internalError" || reason == "rateLimitExceeded") {
        return Unavailable(text);
      }
      return InvalidArgument(text);
    }
    if (SteadyTime::now() > deadline) {
      return Unavailable(fmt::format("BigQuery's job {} (to {}) is not done after {} hours", id,
                                     what, kMaxJobWait.count()));
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(2000));
    std::string path = fmt::format("/bigquery/v2/projects/{}/jobs/{}",
                                   PercentEncode(place.project, false), PercentEncode(id, false));
    if (!location.empty()) path += "?location=" + PercentEncode(location, false);
    SOMLIER_ASSIGN_OR_RETURN(job, place.api->Call(what, "GET", path));
  }
}

}  // namespace somlier::offline::bigquery

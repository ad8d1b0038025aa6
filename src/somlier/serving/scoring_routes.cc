// MLflow's scoring protocol on a model server: POST /invocations, GET /ping and /health
// (see serving/model_server.h), and the error answers of both protocols.
#include <httplib.h>

#include <nlohmann/json.hpp>

#include "somlier/net/http_json.h"
#include "somlier/net/http_routes.h"
#include "somlier/serving/model_server.h"
#include "somlier/serving/scoring_answers.h"

namespace somlier::serving {

void SendScoringError(httplib::Response& response, int status, const std::string& message) {
  SendMlflowError(response, status,
                  status == 503   ? "SERVICE_UNAVAILABLE"
                  : status >= 500 ? "INTERNAL_ERROR"
                                  : "BAD_REQUEST",
                  message);
}

void SendV2Error(httplib::Response& response, int status, const std::string& message) {
  SendJson(response, {{"error", message}}, status);
}

void SendErrorFor(std::string_view path, httplib::Response& response, int status,
                  const std::string& message) {
  (path.starts_with("/v2") ? SendV2Error : SendScoringError)(response, status, message);
}

void ModelServer::SetUpScoringRoutes() {
  HttpRoutes& s = *http_;
  auto health = [this](const httplib::Request&, httplib::Response& response) {
    if (ready()) {
      response.set_content("\n", "text/plain");
    } else {
      response.status = 503;
      response.set_content("no model worker is ready\n", "text/plain");
    }
  };
  s.Get("/ping", health);
  s.Get("/health", health);

  s.Post("/invocations", [this](const httplib::Request& request, httplib::Response& response) {
    const auto start = std::chrono::steady_clock::now();
    auto prediction =
        Predict(ParseInvocationsInput(request.get_header_value("Content-Type"), request.body));
    if (!prediction.ok()) {
      SendScoringError(response, HttpStatusFor(prediction.status().code(), HttpDialect::kScoring),
                       ClientMessage(prediction.status()));
    } else {
      // MLflow's shapes: a list of values, of lists (multi-output), or of records.
      std::string body;
      body.reserve(prediction->values.size() + 20);
      body += "{\"predictions\": [";
      body += prediction->values;
      body += "]}";
      response.set_content(std::move(body), "application/json");
    }
    metrics_.RecordLatency(
        ServerMetrics::kInvocations,
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  });
}

}  // namespace somlier::serving

// The KServe V2 (Open Inference Protocol) routes of a model server (see
// serving/model_server.h): server and model metadata, health, and inference.
#include <fmt/core.h>
#include <httplib.h>

#include <nlohmann/json.hpp>

#include "somlier/core/json_parse.h"
#include "somlier/core/version.h"
#include "somlier/net/http_json.h"
#include "somlier/net/http_routes.h"
#include "somlier/serving/model_server.h"
#include "somlier/serving/scoring_answers.h"
#include "somlier/serving/v2_input.h"

namespace somlier::serving {
namespace {

using nlohmann::json;

// The predictions of a V2 answer, flattened in row-major order.
std::string FlatData(const Prediction& prediction) {
  if (prediction.row_shape.empty()) return prediction.values;
  if (prediction.datatype != "BYTES") {
    std::string flat;
    flat.reserve(prediction.values.size());
    for (char c : prediction.values) {
      if (c != '[' && c != ']') flat += c;
    }
    return flat;
  }
  json nested = ParseJsonOrNull("[" + prediction.values + "]");
  json flat = json::array();
  std::function<void(const json&)> add = [&](const json& v) {
    if (v.is_array()) {
      for (const json& x : v) add(x);
    } else {
      flat.push_back(v);
    }
  };
  add(nested);
  std::string text = flat.dump();
  return text.substr(1, text.size() - 2);
}

// The V2 datatype of a list of JSON values: BOOL, INT64, FP64, or BYTES.
std::string DatatypeOf(const json& values) {
  bool all_bool = true, all_int = true, all_number = true;
  for (const json& v : values) {
    all_bool = all_bool && v.is_boolean();
    all_int = all_int && v.is_number_integer();
    all_number = all_number && (v.is_number() || v.is_null());
  }
  if (values.empty()) return "FP64";
  return all_bool ? "BOOL" : all_int ? "INT64" : all_number ? "FP64" : "BYTES";
}

// The outputs of a V2 answer: one "predict" tensor, or for a model that answers records (a
// DataFrame), one output per column.
std::string Outputs(const Prediction& prediction) {
  if (prediction.columns.empty()) {
    std::string shape = std::to_string(prediction.rows);
    for (int64_t d : prediction.row_shape) shape += "," + std::to_string(d);
    return fmt::format(R"([{{"name":"predict","datatype":"{}","shape":[{}],"data":[{}]}}])",
                       prediction.datatype, shape, FlatData(prediction));
  }
  json records = ParseJsonOrNull("[" + prediction.values + "]");
  json outputs = json::array();
  for (const std::string& column : prediction.columns) {
    json data = json::array();
    for (const json& record : records) {
      data.push_back(record.is_object() && record.contains(column) ? record[column] : json());
    }
    outputs.push_back({{"name", column},
                       {"datatype", DatatypeOf(data)},
                       {"shape", {prediction.rows}},
                       {"data", std::move(data)}});
  }
  return outputs.dump(-1, ' ', false, json::error_handler_t::replace);
}

// The model's inputs as V2 metadata describes them.
json InputsMetadata(const ModelSchema& schema) {
  json inputs = json::array();
  const ModelSignature& signature = schema.signature;
  if (signature.kind == ModelSignature::Kind::kColumns) {
    for (const ColumnSpec& column : signature.columns) {
      json input{{"name", column.name},
                 {"datatype", std::string(V2Datatype(column.type))},
                 {"shape", {-1}}};
      if (!column.required) input["parameters"] = {{"optional", true}};
      inputs.push_back(std::move(input));
    }
    return inputs;
  }
  if (signature.kind == ModelSignature::Kind::kTensor) {
    inputs.push_back({{"name", "input-0"},
                      {"datatype", std::string(V2Datatype(signature.tensor.type))},
                      {"shape", signature.tensor.shape}});
    return inputs;
  }
  json shape = json::array({-1});
  if (schema.n_features >= 0) shape.push_back(schema.n_features);
  json input{{"name", "input-0"}, {"datatype", "FP64"}, {"shape", shape}};
  if (!schema.feature_names.empty()) input["parameters"] = {{"columns", schema.feature_names}};
  inputs.push_back(std::move(input));
  return inputs;
}

}  // namespace

void ModelServer::SetUpV2Routes() {
  HttpRoutes& s = *http_;
  s.Get("/v2", [](const httplib::Request&, httplib::Response& response) {
    response.set_content(json{{"name", "somlier"},
                              {"version", std::string(kSomlierVersion)},
                              {"extensions", json::array()}}
                             .dump(),
                         "application/json");
  });
  s.Get("/v2/health/live", [](const httplib::Request&, httplib::Response& response) {
    response.set_content(json{{"live", true}}.dump(), "application/json");
  });
  s.Get("/v2/health/ready", [this](const httplib::Request&, httplib::Response& response) {
    response.status = ready() ? 200 : 503;
    response.set_content(json{{"ready", ready()}}.dump(), "application/json");
  });
  // Whether the request names this model (and version, when it gives one); answers 404 if not.
  auto names_this_model = [this](const httplib::Request& request, httplib::Response& response) {
    const std::string name = request.matches[1];
    const std::string version = request.matches.size() > 2 ? std::string(request.matches[2]) : "";
    if (name != options_.model_name || (!version.empty() && version != options_.model_version)) {
      SendV2Error(response, 404,
                  fmt::format("model '{}'{} is not served here; this server serves '{}' version {}",
                              name, version.empty() ? "" : " version " + version,
                              options_.model_name, options_.model_version));
      return false;
    }
    return true;
  };
  const std::string model = R"(/v2/models/([^/]+)(?:/versions/([^/]+))?)";
  s.Get(model + "/ready",
        [this, names_this_model](const httplib::Request& request, httplib::Response& response) {
          if (!names_this_model(request, response)) return;
          response.status = ready() ? 200 : 503;
          response.set_content(json{{"name", options_.model_name}, {"ready", ready()}}.dump(),
                               "application/json");
        });
  s.Get(model, [this, names_this_model](const httplib::Request& request,
                                        httplib::Response& response) {
    if (!names_this_model(request, response)) return;
    std::lock_guard lock(mutex_);
    response.set_content(
        json{
            {"name", options_.model_name},
            {"versions", {options_.model_version}},
            {"platform", "somlier_" + (model_info_.flavor.empty() ? "python" : model_info_.flavor)},
            {"inputs", InputsMetadata(model_info_.schema)},
            {"outputs",
             json::array({json{{"name", "predict"}, {"datatype", "FP64"}, {"shape", {-1}}}})}}
            .dump(-1, ' ', false, json::error_handler_t::replace),
        "application/json");
  });
  s.Post(model + "/infer",
         [this, names_this_model](const httplib::Request& request, httplib::Response& response) {
           const auto start = std::chrono::steady_clock::now();
           if (!names_this_model(request, response)) return;
           auto parsed = ParseV2InferRequest(request.body);
           Result<Prediction> prediction = parsed.ok() ? Predict(std::move(parsed->table))
                                                       : Result<Prediction>(parsed.status());
           if (!prediction.ok()) {
             SendV2Error(response, HttpStatusFor(prediction.status().code(), HttpDialect::kScoring),
                         ClientMessage(prediction.status()));
           } else {
             std::string body =
                 fmt::format(R"({{"model_name":{},"model_version":{},"id":{},"outputs":{}}})",
                             json(options_.model_name).dump(), json(options_.model_version).dump(),
                             json(parsed->id).dump(), Outputs(*prediction));
             response.set_content(std::move(body), "application/json");
           }
           metrics_.RecordLatency(
               ServerMetrics::kV2Infer,
               std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
         });
}

}  // namespace somlier::serving

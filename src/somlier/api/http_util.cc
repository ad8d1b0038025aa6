#include "somlier/api/http_util.h"

#include <fmt/core.h>

#include "somlier/api/mlflow_json.h"
#include "somlier/core/json_number.h"
#include "somlier/core/json_parse.h"

namespace somlier::api {
namespace {

using nlohmann::json;

Status Missing(std::string_view name) {
  return InvalidArgument(fmt::format(
      "Missing value for required parameter '{}'. See the API docs for more information about "
      "request parameters.",
      name));
}

Status WrongType(std::string_view name, const json& value, std::string_view expected) {
  const std::string shown = JsonPreview(value);
  return InvalidArgument(fmt::format("Invalid value {} for parameter '{}' supplied: expected {}",
                                     shown, name, expected));
}

}  // namespace

Result<Fields> Fields::FromJsonBody(std::string_view body) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return Fields(json::object());
  auto parsed_body = ParseJson(body, "the request body");
  if (!parsed_body.ok()) {
    return InvalidArgument("Malformed request body: " + parsed_body.status().message());
  }
  json parsed = std::move(*parsed_body);
  if (parsed.is_string()) {  // legacy clients double-encode the body
    parsed = ParseJsonOrNull(parsed.get<std::string>());
  }
  if (!parsed.is_object()) return InvalidArgument("The request body must be a JSON object");
  return Fields(std::move(parsed));
}

Result<Fields> Fields::From(const httplib::Request& request) {
  if (request.method != "GET" || request.params.empty()) return FromJsonBody(request.body);
  json object = json::object();
  for (const auto& [key, value] : request.params) {
    json& slot = object[key];
    if (slot.is_null()) {
      slot = value;
    } else if (slot.is_array()) {
      slot.push_back(value);
    } else {
      slot = json::array({slot, value});
    }
  }
  return Fields(std::move(object));
}

bool Fields::Has(std::string_view name) const { return Raw(name) != nullptr; }

const json* Fields::Raw(std::string_view name) const {
  auto it = json_.find(name);
  if (it == json_.end() || it->is_null()) return nullptr;
  return &*it;
}

Result<std::string> Fields::String(std::string_view name, std::string fallback) const {
  const json* v = Raw(name);
  if (v == nullptr) return fallback;
  if (v->is_array() && v->size() == 1) v = &(*v)[0];  // a query key given once per list
  if (v->is_string()) return v->get<std::string>();
  if (v->is_number_integer()) return v->dump();  // exact, signed or not
  return WrongType(name, *v, "a string");
}

Result<std::string> Fields::RequiredString(std::string_view name) const {
  SOMLIER_ASSIGN_OR_RETURN(std::string value, String(name));
  if (value.empty()) return Missing(name);
  return value;
}

Result<std::optional<int64_t>> Fields::Int(std::string_view name, IntRange range) const {
  const json* v = Raw(name);
  if (v == nullptr) return std::optional<int64_t>();
  if (v->is_array() && v->size() == 1) v = &(*v)[0];  // a query key given once per list
  SOMLIER_ASSIGN_OR_RETURN(int64_t i, IntFromJson(name, *v, range, IntSpelling::kNumberOrString));
  return std::optional<int64_t>(i);
}

Result<std::optional<double>> Fields::Double(std::string_view name) const {
  const json* v = Raw(name);
  if (v == nullptr) return std::optional<double>();
  if (auto d = DoubleFromJson(*v); d && !v->is_boolean()) return std::optional<double>(*d);
  return WrongType(name, *v, "a number");
}

Result<std::optional<bool>> Fields::Bool(std::string_view name) const {
  const json* v = Raw(name);
  if (v == nullptr) return std::optional<bool>();
  if (v->is_boolean()) return std::optional<bool>(v->get<bool>());
  if (v->is_string()) {
    std::string s = v->get<std::string>();
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (s == "true") return std::optional<bool>(true);
    if (s == "false") return std::optional<bool>(false);
  }
  return WrongType(name, *v, "true or false");
}

Result<std::vector<std::string>> Fields::StringList(std::string_view name) const {
  std::vector<std::string> out;
  const json* v = Raw(name);
  if (v == nullptr) return out;
  if (!v->is_array()) {
    SOMLIER_ASSIGN_OR_RETURN(std::string one, String(name));
    out.push_back(std::move(one));
    return out;
  }
  for (const json& item : *v) {
    if (item.is_string()) {
      out.push_back(item.get<std::string>());
    } else if (item.is_number_integer()) {
      out.push_back(item.dump());
    } else {
      return WrongType(name, item, "a list of strings");
    }
  }
  return out;
}

Result<std::vector<Tag>> Fields::TagList(std::string_view name) const {
  std::vector<Tag> out;
  const json* v = Raw(name);
  if (v == nullptr) return out;
  if (!v->is_array()) return WrongType(name, *v, "a list of {\"key\", \"value\"} objects");
  for (const json& item : *v) {
    if (!item.is_object()) return WrongType(name, item, "a {\"key\", \"value\"} object");
    auto key = item.find("key");
    if (key == item.end() || !key->is_string() || key->get_ref<const std::string&>().empty()) {
      return Missing(fmt::format("{}.key", name));
    }
    auto value = item.find("value");
    std::string text;
    if (value != item.end() && !value->is_null()) {
      if (!value->is_string()) return WrongType(fmt::format("{}.value", name), *value, "a string");
      text = value->get<std::string>();
    }
    out.push_back({key->get<std::string>(), std::move(text)});
  }
  return out;
}

void SendMlflowError(httplib::Response& response, const Status& status) {
  const StatusCodeInfo& info = InfoFor(status.code());
  SendMlflowError(response, info.mlflow_http_status, info.mlflow_error_code, ClientMessage(status));
}

void SendSeedError(httplib::Response& response, const Status& status) {
  const int code = status.http_status();
  SendJson(
      response,
      {{"status_code", code}, {"title", ReasonPhrase(code)}, {"detail", ClientMessage(status)}},
      code);
}

std::string RegexEscape(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (std::string_view(".^$|()[]{}*+?\\").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

void AddSeedRoute(HttpRoutes& server, const std::string& path, BodyHandler handler,
                  bool online_alias) {
  auto wrapped = [handler = std::move(handler)](const httplib::Request& request,
                                                httplib::Response& response) {
    Result<json> answer = handler(request.body);
    if (!answer.ok()) return SendSeedError(response, answer.status());
    SendJson(response, *answer);
  };
  server.Post(RegexEscape(path), wrapped);
  if (online_alias) server.Post(RegexEscape("/online" + path), wrapped);
}

Result<json> JsonObjectBody(std::string_view body) {
  SOMLIER_ASSIGN_OR_RETURN(json parsed, ParseJson(body, "the request body"));
  if (!parsed.is_object()) return InvalidArgument("the request body must be a JSON object");
  return parsed;
}

std::string ContentDispositionAttachment(std::string_view filename) {
  std::string quoted;   // the quoted-string's content
  std::string encoded;  // RFC 8187 ext-value's value-chars
  bool ascii = true;
  for (char c : filename) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7F) continue;  // control characters: never in a header
    if (byte >= 0x80) {
      ascii = false;
      if ((byte & 0xC0) != 0x80) quoted += '_';  // one '_' per non-ASCII character
    } else {
      if (c == '"' || c == '\\') quoted += '\\';
      quoted += c;
    }
    // attr-char (RFC 8187): ALPHA / DIGIT / "!" / "#" / "$" / "&" / "+" / "-" / "." / "^" /
    // "_" / "`" / "|" / "~"; everything else is percent-encoded.
    const bool attr_char = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                           (c >= '0' && c <= '9') ||
                           std::string_view("!#$&+-.^_`|~").find(c) != std::string_view::npos;
    if (attr_char) {
      encoded += c;
    } else {
      encoded += fmt::format("%{:02X}", byte);
    }
  }
  if (quoted.empty()) quoted = "download";
  std::string header = "attachment; filename=\"" + quoted + "\"";
  if (!ascii) header += "; filename*=UTF-8''" + encoded;
  return header;
}

Result<std::string> RequiredJsonString(const json& request, const char* name) {
  auto it = request.find(name);
  if (it == request.end() || it->is_null() ||
      (it->is_string() && it->get_ref<const std::string&>().empty())) {
    return InvalidArgument(std::string("'") + name + "' is required");
  }
  if (!it->is_string()) return InvalidArgument(std::string("'") + name + "' must be a string");
  return it->get<std::string>();
}

void MlflowRouter::Add(Method method, std::string_view path, JsonHandler handler) {
  endpoints_[{method, std::string(path)}].json = std::move(handler);
}

void MlflowRouter::AddBody(std::string_view path, BodyHandler handler) {
  endpoints_[{Method::kPost, std::string(path)}].body = std::move(handler);
}

void MlflowRouter::Dispatch(Method method, const httplib::Request& request,
                            httplib::Response& response) const {
  auto it = endpoints_.find({method, "/" + request.matches[1].str()});
  if (it == endpoints_.end()) {
    return SendMlflowError(response, 404, "ENDPOINT_NOT_FOUND",
                           fmt::format("no endpoint {} {}", request.method, request.path));
  }
  Result<json> body = Internal("no handler");
  if (it->second.body) {
    body = it->second.body(request.body);
  } else {
    Result<Fields> fields = Fields::From(request);
    if (!fields.ok()) return SendMlflowError(response, fields.status());
    body = it->second.json(*fields);
  }
  if (!body.ok()) return SendMlflowError(response, body.status());
  SendJson(response, *body);
}

void MlflowRouter::Install(HttpRoutes& server) {
  const std::string pattern = R"(/(?:api|ajax-api)/2\.0/mlflow/(.+))";
  auto route = [this](Method method) {
    return [this, method](const httplib::Request& request, httplib::Response& response) {
      Dispatch(method, request, response);
    };
  };
  // One catch-all per method (not recorded), and each endpoint noted for the route table.
  server.httplib::Server::Get(pattern, route(Method::kGet));
  server.httplib::Server::Post(pattern, route(Method::kPost));
  server.httplib::Server::Patch(pattern, route(Method::kPatch));
  server.httplib::Server::Delete(pattern, route(Method::kDelete));
  static constexpr std::string_view kMethodNames[] = {"GET", "POST", "PATCH", "DELETE"};
  for (const auto& [key, endpoint] : endpoints_) {
    for (const char* prefix : {"/api/2.0/mlflow", "/ajax-api/2.0/mlflow"}) {
      server.NoteRoute(std::string(kMethodNames[static_cast<int>(key.first)]), prefix + key.second);
    }
  }
}

}  // namespace somlier::api

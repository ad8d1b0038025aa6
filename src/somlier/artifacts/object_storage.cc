#include "somlier/artifacts/object_storage.h"

#include <fmt/core.h>
#include <httplib.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include <ctime>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "somlier/core/base64.h"
#include "somlier/core/json_parse.h"
#include "somlier/core/strings.h"
#include "somlier/core/url.h"
#include "somlier/execution/run_command.h"

namespace somlier {
namespace {

using nlohmann::json;

std::string Hex(const unsigned char* data, size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (size_t i = 0; i < size; ++i) {
    out += kDigits[data[i] >> 4];
    out += kDigits[data[i] & 15];
  }
  return out;
}

std::string Hmac(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &size);
  return std::string(reinterpret_cast<char*>(out), size);
}

std::string Base64Url(std::string_view bytes) {
  std::string text = Base64Encode(bytes);
  for (char& c : text) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  while (!text.empty() && text.back() == '=') text.pop_back();
  return text;
}

std::string UtcStamp(std::time_t now, const char* format) {
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, format, &tm);
  return buffer;
}

// "scheme://host[:port]" and the host part of an endpoint URL.
Result<std::pair<std::string, std::string>> SplitEndpoint(std::string endpoint,
                                                          std::string_view variable) {
  while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
  auto parts = SplitUrl(endpoint);
  if (!parts || parts->path != "/" ||
      !(endpoint.starts_with("http://") || endpoint.starts_with("https://"))) {
    return InvalidArgument(
        fmt::format("{} '{}' is not an endpoint URL like "
                    "http://host:port or https://host",
                    variable, endpoint));
  }
  return std::make_pair(parts->origin, parts->origin.substr(parts->origin.find("://") + 3));
}

// POSTs a form and returns the JSON answer.
Result<json> PostForm(const std::string& url, const std::string& form) {
  auto parts = SplitUrl(url);
  if (!parts) return InvalidArgument(fmt::format("token_uri '{}' is not a URL", url));
  httplib::Client client(parts->origin);
  client.set_connection_timeout(10, 0);
  client.set_read_timeout(30, 0);
  auto result = client.Post(parts->path, form, "application/x-www-form-urlencoded");
  if (!result) {
    return Unavailable(fmt::format("cannot reach {}: {}", url, httplib::to_string(result.error())));
  }
  json answer = ParseJsonOrNull(result->body);
  if (result->status != 200 || !answer.is_object()) {
    std::string detail =
        answer.is_object() ? answer.value("error_description", answer.value("error", "")) : "";
    return FailedPrecondition(
        fmt::format("{} refused the service account's token request "
                    "(HTTP {}){}",
                    url, result->status, detail.empty() ? "" : ": " + detail));
  }
  return answer;
}

}  // namespace

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return Hex(digest, sizeof digest);
}

std::string PercentEncode(std::string_view text, bool keep_slash) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
        (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

Result<BucketObject> ParseBucketUri(std::string_view uri) {
  const size_t scheme = uri.find("://");
  std::string_view rest = scheme == std::string_view::npos ? uri : uri.substr(scheme + 3);
  const size_t slash = rest.find('/');
  if (slash == 0 || slash == std::string_view::npos || slash + 1 >= rest.size()) {
    return InvalidArgument(
        fmt::format("'{}' is not a bucket URI like {}://BUCKET/PATH", std::string(uri),
                    scheme == std::string_view::npos ? "gs" : std::string(uri.substr(0, scheme))));
  }
  return BucketObject{std::string(rest.substr(0, slash)), std::string(rest.substr(slash + 1))};
}

std::string SignAwsV4(std::string_view method, std::string_view path, std::string_view query,
                      const std::map<std::string, std::string>& headers,
                      std::string_view payload_sha256_hex, const AwsCredentials& credentials,
                      std::string_view region, std::string_view service,
                      std::string_view amz_date) {
  std::string canonical_headers;
  std::vector<std::string> names;
  for (const auto& [name, value] : headers) {  // std::map: sorted by name
    canonical_headers += name + ":" + std::string(Trim(value)) + "\n";
    names.push_back(name);
  }
  const std::string signed_headers = Join(names, ";");
  const std::string canonical_request =
      fmt::format("{}\n{}\n{}\n{}\n{}\n{}", method, path, query, canonical_headers, signed_headers,
                  payload_sha256_hex);
  const std::string date(amz_date.substr(0, 8));
  const std::string scope = fmt::format("{}/{}/{}/aws4_request", date, region, service);
  const std::string to_sign =
      fmt::format("AWS4-HMAC-SHA256\n{}\n{}\n{}", amz_date, scope, Sha256Hex(canonical_request));
  std::string key = Hmac("AWS4" + credentials.secret_access_key, date);
  key = Hmac(key, region);
  key = Hmac(key, service);
  key = Hmac(key, "aws4_request");
  const std::string signature = Hmac(key, to_sign);
  return fmt::format(
      "AWS4-HMAC-SHA256 Credential={}/{}, SignedHeaders={}, Signature={}",
      credentials.access_key_id, scope, signed_headers,
      Hex(reinterpret_cast<const unsigned char*>(signature.data()), signature.size()));
}

Result<SignedGet> S3GetRequest(const BucketObject& object, const Environment& env) {
  std::string region = Lookup(env, "AWS_REGION");
  if (region.empty()) region = Lookup(env, "AWS_DEFAULT_REGION");
  if (region.empty()) region = "us-east-1";
  std::string variable;
  std::string endpoint;
  for (const char* name : {"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "MLFLOW_S3_ENDPOINT_URL"}) {
    endpoint = Lookup(env, name);
    if (!endpoint.empty()) {
      variable = name;
      break;
    }
  }
  SignedGet get;
  std::string host;
  std::string path;
  const std::string key = PercentEncode(object.key, /*keep_slash=*/true);
  if (!endpoint.empty()) {  // an S3-compatible store: path-style
    SOMLIER_ASSIGN_OR_RETURN(auto split, SplitEndpoint(endpoint, variable));
    host = split.second;
    path = "/" + PercentEncode(object.bucket, false) + "/" + key;
    get.url = split.first + path;
  } else if (object.bucket.find('.') != std::string::npos) {
    // A dotted bucket name does not match the wildcard TLS certificate of virtual hosts.
    host = fmt::format("s3.{}.amazonaws.com", region);
    path = "/" + PercentEncode(object.bucket, false) + "/" + key;
    get.url = "https://" + host + path;
  } else {
    host = fmt::format("{}.s3.{}.amazonaws.com", object.bucket, region);
    path = "/" + key;
    get.url = "https://" + host + path;
  }
  AwsCredentials credentials{Lookup(env, "AWS_ACCESS_KEY_ID"), Lookup(env, "AWS_SECRET_ACCESS_KEY"),
                             Lookup(env, "AWS_SESSION_TOKEN")};
  if (credentials.access_key_id.empty() || credentials.secret_access_key.empty()) {
    return get;  // anonymous: a public object
  }
  const std::string amz_date = UtcStamp(std::time(nullptr), "%Y%m%dT%H%M%SZ");
  const std::string empty_payload = Sha256Hex("");
  std::map<std::string, std::string> headers = {
      {"host", host}, {"x-amz-content-sha256", empty_payload}, {"x-amz-date", amz_date}};
  if (!credentials.session_token.empty()) {
    headers["x-amz-security-token"] = credentials.session_token;
  }
  const std::string authorization =
      SignAwsV4("GET", path, "", headers, empty_payload, credentials, region, "s3", amz_date);
  headers["Host"] = headers["host"];  // sent exactly as signed (the client's own may add a port)
  headers.erase("host");
  get.headers = std::move(headers);
  get.headers["Authorization"] = authorization;
  return get;
}

Result<std::string> ServiceAccountJwt(const std::string& client_email,
                                      const std::string& private_key_pem,
                                      const std::string& token_uri, std::string_view scope,
                                      int64_t now_seconds) {
  const std::string header = Base64Url(R"({"alg":"RS256","typ":"JWT"})");
  const std::string claims = Base64Url(json{
      {"iss", client_email},
      {"scope", scope},
      {"aud", token_uri},
      {"iat", now_seconds},
      {"exp", now_seconds + 3600}}.dump());
  const std::string signing_input = header + "." + claims;
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(private_key_pem.data(), static_cast<int>(private_key_pem.size())), &BIO_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr), &EVP_PKEY_free);
  if (!key || EVP_PKEY_base_id(key.get()) != EVP_PKEY_RSA) {
    return InvalidArgument("the service account's private_key is not a PEM RSA private key");
  }
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  size_t size = 0;
  if (EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &size,
                     reinterpret_cast<const unsigned char*>(signing_input.data()),
                     signing_input.size()) != 1) {
    return InvalidArgument("the service account's private_key cannot sign (not an RSA key?)");
  }
  std::string signature(size, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &size,
                     reinterpret_cast<const unsigned char*>(signing_input.data()),
                     signing_input.size()) != 1) {
    return InvalidArgument("signing with the service account's private_key failed");
  }
  signature.resize(size);
  return signing_input + "." + Base64Url(signature);
}

Result<std::string> GoogleAccessToken(const Environment& env, std::string_view scope) {
  const std::string key_file = Lookup(env, "GOOGLE_APPLICATION_CREDENTIALS");
  if (!key_file.empty()) {
    std::ifstream in(key_file);
    if (!in) {
      return FailedPrecondition(
          fmt::format("GOOGLE_APPLICATION_CREDENTIALS names '{}', which "
                      "cannot be read",
                      key_file));
    }
    std::stringstream text;
    text << in.rdbuf();
    const json key = ParseJsonOrNull(text.str());
    // A field of the key file when it is a string; a key file of another shape is refused,
    // never read with a throwing accessor.
    auto field = [&key](const char* name) -> std::optional<std::string> {
      if (!key.is_object()) return std::nullopt;
      const auto it = key.find(name);
      if (it == key.end() || !it->is_string()) return std::nullopt;
      return it->get<std::string>();
    };
    const auto client_email = field("client_email");
    const auto private_key = field("private_key");
    if (field("type") != "service_account" || !client_email || !private_key ||
        (key.contains("token_uri") && !field("token_uri"))) {
      return FailedPrecondition(fmt::format(
          "'{}' (GOOGLE_APPLICATION_CREDENTIALS) is not a service-account key file (JSON with "
          "type service_account, and client_email, private_key and any token_uri as strings)",
          key_file));
    }
    const std::string token_uri =
        field("token_uri").value_or("https://oauth2.googleapis.com/token");
    SOMLIER_ASSIGN_OR_RETURN(std::string jwt,
                             ServiceAccountJwt(*client_email, *private_key, token_uri, scope,
                                               static_cast<int64_t>(std::time(nullptr))));
    SOMLIER_ASSIGN_OR_RETURN(
        json answer, PostForm(token_uri,
                              "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"
                              "&assertion=" +
                                  jwt));
    if (!answer.contains("access_token") || !answer["access_token"].is_string()) {
      return FailedPrecondition(fmt::format("{} answered without an access_token", token_uri));
    }
    return answer["access_token"].get<std::string>();
  }
  CommandOptions options;
  options.env = env;
  options.timeout = std::chrono::seconds(60);
  auto out = RunCommand({"gcloud", "auth", "print-access-token"}, options);
  if (out.ok() && out->exit_code == 0 && !Trim(out->stdout_text).empty()) {
    return std::string(Trim(out->stdout_text));
  }
  return FailedPrecondition(
      "no Google Cloud credentials: set GOOGLE_APPLICATION_CREDENTIALS to a service-account key "
      "file, log in with `gcloud auth login`, or name an emulator (STORAGE_EMULATOR_HOST for GCS, "
      "BIGQUERY_EMULATOR_HOST for BigQuery)");
}

Result<SignedGet> GcsGetRequest(const BucketObject& object, const Environment& env) {
  SignedGet get;
  const std::string path =
      fmt::format("/storage/v1/b/{}/o/{}?alt=media", PercentEncode(object.bucket, false),
                  PercentEncode(object.key, false));
  std::string emulator = Lookup(env, "STORAGE_EMULATOR_HOST");
  if (!emulator.empty()) {
    if (emulator.find("://") == std::string::npos) emulator = "http://" + emulator;
    SOMLIER_ASSIGN_OR_RETURN(auto split, SplitEndpoint(emulator, "STORAGE_EMULATOR_HOST"));
    get.url = split.first + path;
    return get;
  }
  SOMLIER_ASSIGN_OR_RETURN(
      std::string token,
      GoogleAccessToken(env, "https://www.googleapis.com/auth/devstorage.read_only"));
  get.url = "https://storage.googleapis.com" + path;
  get.headers["Authorization"] = "Bearer " + token;
  return get;
}

}  // namespace somlier

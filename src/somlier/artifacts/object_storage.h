// ObjectStorage: reading objects from Google Cloud Storage (gs://BUCKET/OBJECT) and
// Amazon S3 or S3-compatible stores (s3://BUCKET/KEY) over their HTTP APIs — what
// artifacts/fetch.h uses for those URIs.
//
// GCS: the JSON API (GET /storage/v1/b/BUCKET/o/OBJECT?alt=media). STORAGE_EMULATOR_HOST
// names an emulator to use instead (no credentials). Otherwise the access token comes from
// the service-account key file GOOGLE_APPLICATION_CREDENTIALS names (a JWT signed with its
// RS256 key, exchanged at its token_uri), else from `gcloud auth print-access-token`.
// S3: Signature Version 4 with AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (and
// AWS_SESSION_TOKEN), unsigned without them; region AWS_REGION or AWS_DEFAULT_REGION
// (default us-east-1); endpoint AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL or
// MLFLOW_S3_ENDPOINT_URL (path-style requests), else AWS (virtual-hosted style).
// Secrets are never put in messages or on command lines. Stateless; thread-safe.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "somlier/core/result.h"
#include "somlier/core/settings.h"

namespace somlier {

struct BucketObject {
  std::string bucket;
  std::string key;
};

// Splits gs://BUCKET/OBJECT or s3://BUCKET/KEY. Errors: InvalidArgument when the bucket or
// the object is missing.
Result<BucketObject> ParseBucketUri(std::string_view uri);

// An HTTP GET to make: the URL and the headers to send with it.
struct SignedGet {
  std::string url;
  std::map<std::string, std::string> headers;
};

// ---- S3 ----
struct AwsCredentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // optional
};

// The Authorization header value of AWS Signature Version 4 for a request. `headers` are
// the headers to sign (names lowercase, `host` among them); `amz_date` is YYYYMMDDTHHMMSSZ.
// `path` is the URI path already percent-encoded; `query` the canonical query string.
std::string SignAwsV4(std::string_view method, std::string_view path, std::string_view query,
                      const std::map<std::string, std::string>& headers,
                      std::string_view payload_sha256_hex, const AwsCredentials& credentials,
                      std::string_view region, std::string_view service, std::string_view amz_date);

// The request that reads `object` from S3 now. Errors: InvalidArgument for a bad endpoint.
Result<SignedGet> S3GetRequest(const BucketObject& object, const Environment& env);

// ---- Google Cloud (GCS, and BigQuery's offline/bigquery_warehouse.h) ----
// An OAuth access token for `scope` (e.g. https://www.googleapis.com/auth/bigquery): from
// the service-account key file GOOGLE_APPLICATION_CREDENTIALS names (a JWT for `scope`,
// signed with its RS256 key and exchanged at its token_uri), else from `gcloud auth
// print-access-token` (the login's own scopes). Emulators are the caller's to check first.
// The token is a secret: for an Authorization header only. Errors: FailedPrecondition when
// no credentials are configured or the token request is refused; Unavailable when the
// token_uri cannot be reached.
Result<std::string> GoogleAccessToken(const Environment& env, std::string_view scope);

// The request that reads `object` from GCS, with an access token obtained as described
// above. Errors: FailedPrecondition when no credentials are configured; Unavailable or
// PermissionDenied-like FailedPrecondition when the token exchange fails.
Result<SignedGet> GcsGetRequest(const BucketObject& object, const Environment& env);

// A JWT assertion for a service-account token request, signed RS256 with `private_key_pem`.
// Errors: InvalidArgument when the key cannot be read.
Result<std::string> ServiceAccountJwt(const std::string& client_email,
                                      const std::string& private_key_pem,
                                      const std::string& token_uri, std::string_view scope,
                                      int64_t now_seconds);

// Helpers shared with tests.
std::string Sha256Hex(std::string_view data);
std::string PercentEncode(std::string_view text, bool keep_slash);

}  // namespace somlier

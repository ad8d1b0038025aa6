// Fetch: copies the file a URI names to a local path.
//
// Supported: local paths, file://, http:// and https:// (up to 5 redirects followed, none
// when the request carries credentials), gs:// and s3:// (artifacts/object_storage.h;
// credentials and endpoints from `env`). A FetchPolicy (artifacts/fetch_policy.h) limits
// what a URI from someone else may read; the default allows everything. The destination is
// written through a temporary file in the same directory and renamed into place, so a
// failed or interrupted fetch never leaves a partial file at `destination`. Its directory
// is created when missing. Thread-safe (no shared state).
#pragma once

#include <filesystem>
#include <string_view>

#include "somlier/artifacts/fetch_policy.h"
#include "somlier/core/settings.h"
#include "somlier/core/status.h"

namespace somlier {

// Errors: InvalidArgument for a URI of no known form; NotFound when the file does not
// exist (or HTTP 404); Unavailable when a server cannot be reached or answers 5xx;
// FailedPrecondition for other HTTP statuses (401/403: the credentials are refused) and
// for missing object-storage credentials and too many redirects. With a public-only
// `policy`, InvalidArgument for a source it refuses, naming the address and why, and
// ending with the policy's how_to_allow.
Status FetchToFile(std::string_view uri, const std::filesystem::path& destination,
                   const Environment& env, const FetchPolicy& policy);
// FetchPolicy::AnySource().
Status FetchToFile(std::string_view uri, const std::filesystem::path& destination,
                   const Environment& env);
// With this process's environment.
Status FetchToFile(std::string_view uri, const std::filesystem::path& destination);

}  // namespace somlier

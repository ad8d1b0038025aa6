// HttpUtil: small helpers of the API server's routes. Internal to src/somlier/api.
#pragma once

#include <string>
#include <string_view>

namespace somlier::api {

// `text` with regular-expression metacharacters escaped, for httplib's route patterns.
std::string RegexEscape(std::string_view text);

// The Content-Disposition header of a download named `filename` (RFC 6266): `attachment;
// filename="..."` with '"' and '\\' escaped, control characters dropped and non-ASCII
// replaced by '_' in that quoted fallback, plus `filename*=UTF-8''...` (RFC 8187
// percent-encoding) when the name has non-ASCII characters.
std::string ContentDispositionAttachment(std::string_view filename);

}  // namespace somlier::api

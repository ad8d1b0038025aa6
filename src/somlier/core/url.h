// Url: small helpers for URLs that may carry credentials.
#pragma once

#include <string>
#include <string_view>

namespace somlier {

// "postgresql://user:secret@host/db" -> "postgresql://user:***@host/db". Anything without
// a password is returned unchanged. For messages and logs: credentials never reach either.
std::string RedactUrlPassword(std::string_view url);

}  // namespace somlier

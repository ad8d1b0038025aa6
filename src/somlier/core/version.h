// Version: this build's version (from CMake's project version).
#pragma once

#include <string_view>

namespace somlier {

inline constexpr std::string_view kSomlierVersion = SOMLIER_VERSION;

}  // namespace somlier

// Secrets: comparing credentials without leaking their content through timing.
#pragma once

#include <string_view>

namespace somlier {

// True when a and b are equal; the time taken depends only on the lengths.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace somlier

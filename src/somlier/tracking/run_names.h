// RunNames: a readable name for a run created without one ("quiet-otter-417").
// Thread-safe.
#pragma once

#include <string>

namespace somlier {

std::string NewRunName();

}  // namespace somlier

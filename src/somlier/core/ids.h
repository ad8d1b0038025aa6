// Ids: generation and checking of run ids.
//
// Run ids are 32 lowercase hex digits (128 random bits), as MLflow's. Thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace somlier {

std::string NewRunId();

bool IsValidRunId(std::string_view id);

}  // namespace somlier

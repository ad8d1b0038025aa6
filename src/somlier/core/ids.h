// Ids: generation and checking of run ids, and secret tokens — all from the kernel's
// cryptographically secure generator (getrandom), so that no id or token can be predicted
// from others.
//
// Run ids are 32 lowercase hex digits (128 random bits), as MLflow's. Thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace somlier {

std::string NewRunId();

bool IsValidRunId(std::string_view id);

// A secret (an API token): 64 lowercase hex digits, 256 random bits.
std::string NewSecretToken();

}  // namespace somlier

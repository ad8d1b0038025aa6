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

// A project archive's name (projects/git_cache.h): a 40-hex-digit commit, '-', and 1 to 16 hex
// digits of a hash of the project's path — what a pod may ask the server for.
bool IsProjectArchiveName(std::string_view name);

// A secret (an API token): 64 lowercase hex digits, 256 random bits.
std::string NewSecretToken();

}  // namespace somlier

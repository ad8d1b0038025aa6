// Time: wall-clock readings and their ISO-8601 spellings.
//
// Stored timestamps are milliseconds since the Unix epoch (MLflow's convention). Pure
// functions over the system clock; thread-safe.
#pragma once

#include <cstdint>
#include <string>

namespace somlier {

int64_t NowMillis();
int64_t NowMicros();

// "2022-08-17T18:50:24.775569": local time, microseconds, no offset. This is the
// spelling of Python's datetime.now().isoformat() that the seed's `config run` prints.
std::string FormatLocalIsoMicros(int64_t epoch_micros);

// "2022-08-17T09:50:24.775Z": UTC, milliseconds.
std::string FormatUtcIsoMillis(int64_t epoch_millis);

}  // namespace somlier

// LogBatchParser: the body of MLflow's runs/log-batch, parsed with simdjson — the hot path
// of metric ingest, where a DOM parser's allocations cost more than the database.
//
// Accepts what the generic field reader accepts (api/fields.h): `run_id` (or the
// deprecated `run_uuid`), `metrics` [{key, value, timestamp, step?}] with values as numbers
// or "NaN"/"Infinity"/"-Infinity" and integers as numbers or decimal strings, `params` and
// `tags` [{key, value?}]; unknown fields are ignored. Errors are InvalidArgument naming the
// element ("metrics[3]: ..."). Pure function; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "somlier/core/result.h"
#include "somlier/store/entities.h"

namespace somlier::api {

struct LogBatchRequest {
  std::string run_id;
  std::vector<Metric> metrics;
  std::vector<Param> params;
  std::vector<Tag> tags;
};

Result<LogBatchRequest> ParseLogBatch(std::string_view body);

}  // namespace somlier::api

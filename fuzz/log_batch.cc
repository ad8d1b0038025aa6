// Fuzz target: the body of MLflow's runs/log-batch, ParseLogBatch (api/log_batch_parser.h),
// the simdjson parser of the metric-ingest hot path.
//
// Invariants: a parsed request names a run, and every string in it re-serialises with
// nlohmann's strict dump (which throws on invalid UTF-8) — these strings are stored and later
// written into JSON answers.
#include <nlohmann/json.hpp>

#include "fuzz/fuzz_util.h"
#include "somlier/api/log_batch_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto parsed = somlier::api::ParseLogBatch(somlier::fuzz::AsText(data, size));
  if (!parsed.ok()) return 0;
  FUZZ_CHECK(!parsed->run_id.empty(), "a log-batch request without a run id was accepted");
  nlohmann::json all = {{"run_id", parsed->run_id}};
  for (const somlier::Metric& m : parsed->metrics) {
    all["metrics"].push_back(
        {{"key", m.key}, {"value", m.value}, {"timestamp", m.timestamp}, {"step", m.step}});
  }
  for (const somlier::Param& p : parsed->params) {
    FUZZ_CHECK(!p.key.empty(), "a param without a key was accepted");
    all["params"].push_back({{"key", p.key}, {"value", p.value}});
  }
  for (const somlier::Tag& t : parsed->tags) {
    FUZZ_CHECK(!t.key.empty(), "a tag without a key was accepted");
    all["tags"].push_back({{"key", t.key}, {"value", t.value}});
  }
  somlier::fuzz::ExpectNoThrow("the parsed request as JSON", [&] { (void)all.dump(); });
  return 0;
}

// Store: opening, the schema version, and the background compactor of metric history.
// Experiments are in store_experiments.cc, runs in store_runs.cc, the model registry in
// store_registry.cc, deployments in store_deployments.cc, the shared helpers in
// store_internal.cc.
#include "somlier/store/store.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "somlier/core/log.h"
#include "somlier/core/time.h"
#include "somlier/store/migrations.h"
#include "somlier/store/query_sql.h"
#include "somlier/store/store_internal.h"

namespace somlier {

using store_internal::Exec;
using store_internal::Values;

Store::Store(std::unique_ptr<Database> db)
    : db_(std::move(db)), log_batches_(std::make_unique<GroupCommit>(*db_)) {
  compactor_ = std::thread([this] { CompactInBackground(); });
}

Store::~Store() {
  {
    std::lock_guard<std::mutex> lock(compactor_mu_);
    stopping_ = true;
  }
  compactor_cv_.notify_all();
  compactor_.join();
}

void Store::CompactInBackground() {
  // Compaction competes with ingest for the one writer, so it waits for a pause in
  // logging; it only runs during a long burst when the log has grown big enough to slow
  // history reads, and then in chunks, so ingest keeps going in between.
  constexpr int64_t kChunk = 100000;      // points per compaction transaction
  constexpr int64_t kMaxBacklog = 50000;  // logged batches (~5M points of 100 each)
  constexpr int64_t kQuietMillis = 1000;
  std::unique_lock<std::mutex> lock(compactor_mu_);
  while (!stopping_) {
    compactor_cv_.wait_for(lock, std::chrono::milliseconds(500), [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    while (true) {
      auto backlog = MetricLogBacklog();
      if (!backlog.ok() || *backlog == 0) break;
      const bool quiet = NowMillis() - last_log_batch_ms_.load() >= kQuietMillis;
      if (!quiet && *backlog < kMaxBacklog) break;
      auto moved = CompactMetrics(kChunk);
      if (!moved.ok()) {
        LogWarning("compacting metric history: {}", moved.status().ToString());
        break;
      }
      std::lock_guard<std::mutex> check(compactor_mu_);
      if (stopping_) break;
    }
    lock.lock();
  }
}

Result<int64_t> Store::MetricLogBacklog() {
  int64_t backlog = 0;
  SOMLIER_RETURN_IF_ERROR(db_->Transaction(false, [&](Connection& c) -> Status {
    SOMLIER_ASSIGN_OR_RETURN(QueryResult r, Exec(c, "SELECT MIN(seq), MAX(seq) FROM metric_log"));
    if (!r.rows.empty() && !IsNull(r.rows[0][0])) {
      backlog = AsInt(r.rows[0][1]) - AsInt(r.rows[0][0]) + 1;
    }
    return OkStatus();
  }));
  return backlog;
}

Result<std::unique_ptr<Store>> Store::Open(std::string_view url) {
  SOMLIER_ASSIGN_OR_RETURN(std::unique_ptr<Database> db, Database::Open(url));
  SOMLIER_RETURN_IF_ERROR(Migrate(*db));
  return std::make_unique<Store>(std::move(db));
}

Result<int64_t> Store::SchemaVersion() {
  int64_t version = 0;
  SOMLIER_RETURN_IF_ERROR(db_->Transaction(false, [&](Connection& c) -> Status {
    SOMLIER_ASSIGN_OR_RETURN(QueryResult r, Exec(c, "SELECT MAX(version) FROM somlier_schema"));
    version = r.rows.empty() ? 0 : AsInt(r.rows[0][0]);
    return OkStatus();
  }));
  return version;
}

}  // namespace somlier

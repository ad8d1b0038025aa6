// BodyStore: where the HTTP listener keeps request bodies while they arrive — in memory
// up to a size per request and a budget for all connections, otherwise in an unlinked
// temporary file (a "spool") up to a budget of its own — so that memory stays bounded
// whatever clients send. Internal to src/somlier/net.
//
// Thread safety: the budgets are shared by every thread — taken before the bytes are kept,
// and given back at once when they do not fit, so they are never exceeded; each Connection
// is used by one thread at a time (see net/connection.h), which may call Release for it.
#pragma once

#include <atomic>
#include <cstddef>
#include <optional>
#include <string_view>

#include "somlier/net/connection.h"
#include "somlier/net/request_framing.h"

namespace somlier {

class BodyStore {
 public:
  BodyStore(size_t memory_body_bytes, size_t memory_budget_bytes, size_t spool_budget_bytes)
      : memory_body_bytes_(memory_body_bytes),
        memory_budget_bytes_(memory_budget_bytes),
        spool_budget_bytes_(spool_budget_bytes) {}

  // Appends `data` to the connection's body (c.received counts it). Refusals: 413 past the
  // request's limit (c.limit), 503 when the budgets are spent or the disk refuses.
  std::optional<HttpRefusal> Append(Connection& c, std::string_view data);

  // Moves the body to a spool file from now on (a body announced larger than memory takes).
  std::optional<HttpRefusal> Spool(Connection& c);

  // Frees what the connection's body holds, memory and spool.
  void Release(Connection& c);

 private:
  const size_t memory_body_bytes_;
  const size_t memory_budget_bytes_;
  const size_t spool_budget_bytes_;
  std::atomic<size_t> memory_used_{0};
  std::atomic<size_t> spool_used_{0};
};

}  // namespace somlier

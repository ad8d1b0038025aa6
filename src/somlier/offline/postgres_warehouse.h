// PostgresWarehouse: the Warehouse (offline/warehouse.h) of `postgresql://...` on libpq.
// `dataset.table` is schema.table; a bare table is found by the search path.
// Reading: a NO SCROLL cursor in a REPEATABLE READ, READ ONLY transaction of its own
// connection, fetched a chunk at a time. Writing: one transaction on another connection —
// CREATE TABLE IF NOT EXISTS, LOCK (so two runs of one date take turns), DELETE of the date's
// rows, then COPY ... FROM STDIN of the new rows; committed by Commit(), rolled back when the
// writer goes without it (or the connection drops). Thread safety: as Warehouse.
#pragma once

#include <memory>
#include <string>

#include "somlier/offline/warehouse.h"

namespace somlier::offline {

// Errors: Unavailable when the server cannot be reached or refuses the login (the URL's
// password is never shown).
Result<std::unique_ptr<Warehouse>> OpenPostgresWarehouse(const std::string& url);

}  // namespace somlier::offline

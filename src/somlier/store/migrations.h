// Migrations: the versioned schema of the Store and the code that brings a database to
// the latest version.
//
// Migrations are numbered from 1 and applied in order, all pending ones in a single
// transaction, recording the version reached in `somlier_schema`. Several processes may
// open the same database at once: on PostgreSQL an advisory lock, on SQLite the write
// lock, makes exactly one of them migrate. A database newer than this binary is refused
// rather than written to.
#pragma once

#include <cstdint>

#include "somlier/core/status.h"
#include "somlier/store/database.h"

namespace somlier {

int64_t LatestSchemaVersion();

// Errors: FailedPrecondition when the database's version is newer than this binary's.
Status Migrate(Database& db);

}  // namespace somlier

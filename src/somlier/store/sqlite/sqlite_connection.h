// SqliteConnection: the SQLite backend of Database (see store/database.h).
//
// Each connection opens the same file in WAL mode with foreign keys on and a busy
// timeout, and caches its prepared statements. A connection is used by one thread at a
// time (the pool guarantees it); it is not itself synchronised.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "somlier/store/database.h"

namespace somlier {

struct SqliteOptions {
  std::string path;
  std::string synchronous = "FULL";  // FULL: a commit survives power loss; NORMAL: a crash
  int busy_timeout_ms = 30000;
};

// sqlite:///relative/path.db, sqlite:////absolute/path.db, optional ?synchronous=normal|full.
Result<SqliteOptions> ParseSqliteUrl(std::string_view url);

// Creates the file's directory when missing.
Result<std::unique_ptr<Connection>> OpenSqliteConnection(const SqliteOptions& options);

}  // namespace somlier

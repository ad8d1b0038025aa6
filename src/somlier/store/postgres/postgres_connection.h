// PostgresConnection: the PostgreSQL backend of Database (see store/database.h), on libpq.
//
// Translates `?` placeholders to `$n`, prepares each distinct statement once per
// connection, and sends values as text. A connection is used by one thread at a time
// (the pool guarantees it); it is not itself synchronised.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "somlier/store/database.h"

namespace somlier {

// postgres://... and postgresql+psycopg2://... (SQLAlchemy spellings) -> postgresql://...
std::string NormalizePostgresUrl(std::string_view url);

// `?` -> `$1`, `$2`, ... outside string literals and quoted identifiers.
std::string ToPostgresPlaceholders(std::string_view sql);

// Errors: Unavailable when the server cannot be reached or refuses the login.
Result<std::unique_ptr<Connection>> OpenPostgresConnection(const std::string& url);

}  // namespace somlier

// Helpers shared by the Store's implementation files (store*.cc). Not part of the
// Store's interface; include only from those files.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "somlier/store/database.h"
#include "somlier/store/entities.h"

namespace somlier::store_internal {

using Values = std::vector<SqlValue>;

inline Result<QueryResult> Exec(Connection& c, std::string_view sql, const Values& values = {}) {
  return c.Execute(sql, values);
}

// "?, ?, ?" with `n` placeholders.
std::string Placeholders(size_t n);
// "(?, ?, ?), (?, ?, ?)": `rows` groups of `columns` placeholders.
std::string ValueRows(size_t rows, size_t columns);
// Rows per multi-row INSERT: well under SQLite's and PostgreSQL's parameter limits.
inline constexpr size_t kRowsPerInsert = 500;

// Column list for RunInfoFromRow, qualified with `alias` ("r" -> "r.run_uuid, ...") unless
// it is empty.
std::string RunColumns(std::string_view alias);
// Internal: an enumeration's value in the database that this version does not know (a
// newer version wrote it?) — refused, never guessed.
Status UnknownInDatabase(std::string_view what, const std::string& id, std::string_view field,
                         const std::string& value);

// The enumeration `parse` reads from `value` (a column of row `id` of `what`), or the
// UnknownInDatabase error for it.
template <typename Parse>
auto KnownInDatabase(Parse parse, const std::string& value, std::string_view what,
                     const std::string& id, std::string_view field)
    -> Result<typename decltype(parse(value))::value_type> {
  if (auto parsed = parse(value)) return *parsed;
  return UnknownInDatabase(what, id, field, value);
}

// Errors: Internal for a status or lifecycle stage this version does not know (never
// guessed: a run read as FAILED or active that is not would be acted on wrongly).
Result<RunInfo> RunInfoFromRow(const SqlRow& row);

// Fills metrics (latest), params and tags of `runs`, each sorted by key.
Status LoadRunData(Connection& c, std::vector<Run>& runs);

// Fills the dataset inputs of `runs`: in the order they were first logged, each input's
// tags sorted by key. Reads which datasets the runs used first, then each dataset once
// (shared by every run that used it). With `max_chars` > 0, the runs from the first whose
// datasets would bring the total (every run's datasets, as answers show them) past
// `max_chars` characters are removed from `runs` before any dataset is read — the first run
// always stays; returns whether any was removed.
Result<bool> LoadRunInputs(Connection& c, std::vector<Run>& runs, int64_t max_chars = 0);

// How many values one `IN (...)` list of the Store's reads binds at most.
inline constexpr size_t kValuesPerInList = 500;

// NotFound unless the run exists; FailedPrecondition when `require_active` and it is
// deleted. Returns its experiment id.
Result<int64_t> CheckRun(Connection& c, const std::string& run_id, bool require_active);

std::vector<Tag> TagsFromRows(const std::vector<SqlRow>& rows, size_t key_column = 0);

}  // namespace somlier::store_internal

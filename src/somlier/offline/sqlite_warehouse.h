// SqliteWarehouse: the Warehouse (offline/warehouse.h) of `sqlite:///PATH`. Bare tables live
// in PATH; `dataset.table` lives in the database file DATASET.db beside PATH, attached under
// the dataset's name. A database it writes keeps its journal mode (a rollback journal for a
// new file: a new table's pages are written once, not to a WAL and then again), except that a
// file the same warehouse reads from is put in WAL mode, so the reader and the writer — each
// on its own connection — run side by side. Commits are durable (synchronous=FULL); an
// uncommitted replacement is simply absent after a crash. Sources must exist; destinations
// (files and tables) are created. Thread safety: as Warehouse.
#pragma once

#include <memory>
#include <string>

#include "somlier/offline/warehouse.h"

namespace somlier::offline {

// `url` is sqlite:///relative or sqlite:////absolute. Errors: InvalidArgument for another form.
Result<std::unique_ptr<Warehouse>> OpenSqliteWarehouse(const std::string& url);

}  // namespace somlier::offline

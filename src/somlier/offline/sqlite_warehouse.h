// SqliteWarehouse: the Warehouse (offline/warehouse.h) of `sqlite:///PATH`. Bare tables live
// in PATH; `dataset.table` is table `table` of the file DATASET.db in the directory named after
// PATH's file (sqlite:///w/warehouse.db: w/warehouse/DATASET.db), which holds nothing else, so
// no dataset name reaches another file (SoMLier's own database beside warehouse.db, say). Each
// reader and writer opens its table's file on a connection of its own. A file keeps its
// journal mode (a rollback journal for a new one: a new table's pages are written once), except
// that one file both read and written by a run goes to WAL first (Prepare), so the reader and
// the writer do not block each other. Commits are durable (synchronous=FULL); an uncommitted
// replacement is absent after a crash, and a file a failed writer created is removed. Sources
// must exist; destinations (files and tables) are created. Thread safety: as Warehouse.
#pragma once

#include <memory>
#include <string>

#include "somlier/offline/warehouse.h"

namespace somlier::offline {

// `url` is sqlite:///relative or sqlite:////absolute. Errors: InvalidArgument for another form.
Result<std::unique_ptr<Warehouse>> OpenSqliteWarehouse(const std::string& url);

}  // namespace somlier::offline

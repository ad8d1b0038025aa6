// BigQueryWarehouse: the Warehouse (offline/warehouse.h) of `bigquery://PROJECT[?location=LOC]`
// over BigQuery's REST API (v2). PROJECT runs (and pays for) the jobs; a table is
// `[project.]dataset.table` (without a project: PROJECT's); a bare table is refused.
//
// Endpoints, under the API base (https://bigquery.googleapis.com, or
// $SOMLIER_BIGQUERY_API_URL, or http://$BIGQUERY_EMULATOR_HOST):
//   GET    /bigquery/v2/projects/P/datasets/D/tables/T      tables.get (schemas, existence)
//   POST   /bigquery/v2/projects/P/datasets/D/tables        tables.insert (the staging table)
//   DELETE /bigquery/v2/projects/P/datasets/D/tables/T      tables.delete (the staging table)
//   POST   /bigquery/v2/projects/P/queries                  jobs.query (SELECT, COUNT, the swap)
//   GET    /bigquery/v2/projects/P/queries/JOB              jobs.getQueryResults (waiting, pages)
//   POST   /upload/bigquery/v2/projects/P/jobs?uploadType=multipart   load jobs (NDJSON rows)
//   GET    /bigquery/v2/projects/P/jobs/JOB                 jobs.get (waiting for a load job)
//
// Reading: tables.get gives the columns (INTEGER, FLOAT/NUMERIC/BIGNUMERIC, BOOLEAN, STRING,
// BYTES, DATE, TIMESTAMP/DATETIME; any other type or a REPEATED column is refused, naming it);
// then one standard-SQL query `SELECT * ... WHERE col = @date` (a DATE parameter for a DATE
// column, DATE(col) = @date for TIMESTAMP/DATETIME, a STRING one for STRING), read a page of
// results at a time with page tokens: memory holds at most one page. Timestamps come as
// microseconds (formatOptions.useInt64Timestamp) and are given as 2024-01-31T12:00:00.000000Z.
// Writing: a staging table `_somlier_staging_<table>_<random hex>` in the destination's
// dataset, created with an expiration a day ahead (what a killed run leaves goes by itself),
// receives every Append()ed chunk as one load job (NEWLINE_DELIMITED_JSON, WRITE_APPEND);
// Commit() runs one multi-statement query — CREATE TABLE IF NOT EXISTS (partitioned by the
// date column when it is a DATE), then in one transaction DELETE of the date's rows and
// INSERT ... SELECT from staging — and deletes the staging table. A writer destroyed without
// Commit() deletes its staging table (best effort) and leaves the destination as it was.
//
// Credentials: with BIGQUERY_EMULATOR_HOST set, none (no Authorization header). Otherwise an
// access token for https://www.googleapis.com/auth/bigquery as for gs:// (GoogleAccessToken
// in artifacts/object_storage.h), fetched when the warehouse is opened, renewed after 30
// minutes or on an HTTP 401, and sent only in the Authorization header and only over https
// (plain http only to a loopback address): never in a message, a log, a URL or a file.
// Requests: 10 s to connect, 60 s to read, answers above 64 MiB refused; failures that may
// pass (unreachable, HTTP 5xx and 429, rate limits) are retried three times, every request
// being safe to repeat (queries carry a requestId, load jobs their own job id).
// Errors name what was being done and quote BigQuery's message: HTTP 400 InvalidArgument,
// 401/403 FailedPrecondition, 404 NotFound, 409 AlreadyExists, 5xx or unreachable Unavailable.
//
// Ownership and threads: as Warehouse. Readers and writers share the warehouse's token
// (behind a mutex) and nothing else; each request uses its own connection.
#pragma once

#include <memory>
#include <string>

#include "somlier/core/settings.h"
#include "somlier/offline/warehouse.h"

namespace somlier::offline {

// `url` is bigquery://PROJECT (a project id: 6-30 of [a-z0-9-], starting with a letter), with
// an optional ?location=LOC (US, EU, europe-west1, ...) for the jobs. `env` gives
// SOMLIER_BIGQUERY_API_URL, BIGQUERY_EMULATOR_HOST and the credentials' variables. Errors:
// InvalidArgument for another form or a bad SOMLIER_BIGQUERY_API_URL; FailedPrecondition
// when there are no credentials, or the token would travel over plain http; Unavailable when
// the token endpoint cannot be reached.
Result<std::unique_ptr<Warehouse>> OpenBigQueryWarehouse(const std::string& url,
                                                         const Environment& env);

}  // namespace somlier::offline

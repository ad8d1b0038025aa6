// How the bigquery:// warehouse (offline/bigquery_warehouse.h) names tables and reads and
// writes values: table references as paths and as backtick-quoted SQL names, BigQuery's
// column types mapped to the warehouse's (and back, for load jobs and DDL), a schema read
// from tables.get, the date condition a load column takes, query result cells (f/v form) to
// values, and values to newline-delimited JSON for load jobs. Internal to
// src/somlier/offline. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "somlier/batch/table_ref.h"
#include "somlier/offline/bigquery_api.h"
#include "somlier/offline/warehouse.h"

namespace somlier::offline::bigquery {

using batch::TableRef;

// `name` as a BigQuery identifier in backticks.
std::string Quote(std::string_view name);

// A table's columns, with BigQuery's name of each one's type (upper case).
struct Schema {
  std::vector<Column> columns;
  std::vector<std::string> types;
};

// ---- tables and their columns ----
std::string Shown(const TableRef& table);

std::string SqlName(const TableRef& table);

std::string TablesPath(const TableRef& table);

std::string TablePath(const TableRef& table);

std::optional<ColumnType> FromBigQuery(std::string_view type);

// The type a load job's schema gives a column.
std::string_view LoadType(ColumnType type);

// The type CREATE TABLE gives a column (standard SQL's names).
std::string_view DdlType(ColumnType type);

Schema SchemaOf(const std::vector<Column>& columns);

// The schema of a tables.get answer. `readable`: every column must be one offline predict can
// read (InvalidArgument naming the first that is not); otherwise any column goes (an unknown
// type reads as text), for a destination whose names are all that matter.
Result<Schema> ParseSchema(const json& table, const std::string& shown, bool readable);

Result<DateFilter> DateCondition(const Schema& schema, const std::string& column,
                                 const std::string& shown);

Status CheckDate(const std::string& date);

// ---- values ----
// A TIMESTAMP cell in microseconds: "1706702400123456" (formatOptions.useInt64Timestamp), or
// seconds as a decimal "1.706702400123456E9" (BigQuery's default), read exactly.
std::optional<int64_t> TimestampMicros(std::string_view v);

// 2024-01-31T12:00:00.000000Z
std::string FormatTimestamp(int64_t micros);

// One cell of a row in BigQuery's f/v form, read by its column's BigQuery type.
Result<SqlValue> FromCell(const json& cell, const std::string& type, const std::string& column);

// ---- writing rows as newline-delimited JSON ----
void AppendJsonString(std::string& out, std::string_view text);

void AppendNumber(std::string& out, int64_t n);

void AppendNumber(std::string& out, double d);

// `v` as the JSON value a load job reads into a column of `type`: integers as strings (JSON
// numbers lose digits past 2^53), non-finite floats as "NaN"/"Infinity"/"-Infinity", bytes
// in base64, text checked to be UTF-8 (BigQuery's STRING is). Writes nothing for NULL.
Status AppendValue(std::string& out, const SqlValue& v, ColumnType type, const std::string& column,
                   size_t row);

}  // namespace somlier::offline::bigquery

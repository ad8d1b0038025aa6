#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "somlier/batch/dag_file.h"
#include "somlier/offline/offline_service.h"
#include "somlier/offline/warehouse.h"

namespace somlier::offline {
namespace {

namespace fs = std::filesystem;

std::string Error(const Status& status) { return status.ok() ? "" : status.message(); }

TEST(OfflineInputs, ModelRefsDatesAndWarehouseNames) {
  EXPECT_EQ(*ModelRefUri("churn/3"), "models:/churn/3");
  EXPECT_EQ(*ModelRefUri("churn@champion"), "models:/churn@champion");
  EXPECT_EQ(*ModelRefUri("models:/churn/latest"), "models:/churn/latest");
  for (const char* bad : {"churn", "/3", "churn/", "a/b/c", "a@", "@x", "a/1@x", ""}) {
    EXPECT_NE(Error(ModelRefUri(bad).status()).find("is not NAME/VERSION"), std::string::npos)
        << bad;
  }

  // A date as given; a timestamp as its date in UTC or in Seoul (UTC+9).
  EXPECT_EQ(*RunDate("2026-12-01", false), "2026-12-01");
  EXPECT_EQ(*RunDate("2026-11-30T18:00:00+00:00", false), "2026-11-30");
  EXPECT_EQ(*RunDate("2026-11-30T18:00:00+00:00", true), "2026-12-01");
  EXPECT_EQ(*RunDate("2026-11-30T14:59:59Z", true), "2026-11-30");
  EXPECT_EQ(*RunDate("2026-12-01T03:00:00+09:00", false), "2026-11-30");
  EXPECT_EQ(*RunDate("2024-02-29T20:00:00+00:00", true), "2024-03-01");
  for (const char* bad : {"2026-13-01", "yesterday", "2026-11-30T18:00:00", "2026-02-30",
                          "2026-12-01'; DROP TABLE x; --"}) {
    EXPECT_NE(Error(RunDate(bad, true).status()).find("--date"), std::string::npos) << bad;
  }
  EXPECT_EQ(batch::FormatDate(batch::AddDays(*batch::ParseDate("d", "2024-03-01"), -1)),
            "2024-02-29");
  EXPECT_EQ(batch::FormatDate(batch::AddDays(*batch::ParseDate("d", "2026-12-31"), 1)),
            "2027-01-01");

  OfflineConfig config{"/srv/somlier", {{"SOMLIER_WAREHOUSE_PG", "postgresql://u:p@h/db"}}, "py"};
  EXPECT_EQ(*WarehouseUrl("default", config, false), "sqlite:////srv/somlier/warehouse.db");
  EXPECT_EQ(*WarehouseUrl("", config, false), "sqlite:////srv/somlier/warehouse.db");
  EXPECT_EQ(*WarehouseUrl("pg", config, false), "postgresql://u:p@h/db");
  EXPECT_NE(
      Error(WarehouseUrl("sqlite:////etc/passwd.db", config, false).status()).find("not a URL"),
      std::string::npos);
  EXPECT_EQ(*WarehouseUrl("sqlite:///w.db", config, true), "sqlite:///w.db");
  EXPECT_NE(Error(WarehouseUrl("other", config, false).status()).find("SOMLIER_WAREHOUSE_OTHER"),
            std::string::npos);
  EXPECT_NE(Error(WarehouseUrl("../x", config, false).status()).find("letters, digits"),
            std::string::npos);
  config.env["SOMLIER_WAREHOUSE_URL"] = "postgresql://w/db";
  EXPECT_EQ(*WarehouseUrl("default", config, false), "postgresql://w/db");
  EXPECT_NE(Error(OpenWarehouse("mysql://x/y", {}).status()).find("is not sqlite:///PATH"),
            std::string::npos);
}

class SqliteWarehouseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("somlier-wh-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    auto opened = OpenWarehouse("sqlite:///" + (dir_ / "warehouse.db").string(), {});
    ASSERT_TRUE(opened.ok()) << opened.status().message();
    warehouse_ = std::move(*opened);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Writes `rows` rows of (id, day) into `table` for `date` and commits when asked.
  Status Write(const batch::TableRef& table, const std::string& date, int rows, bool commit) {
    // The date is a constant column: given once, for every row.
    Replacement r{
        table, {{"id", ColumnType::kInteger}, {"day", ColumnType::kDate}}, {date}, "day", date};
    SOMLIER_ASSIGN_OR_RETURN(auto writer, warehouse_->Replace(r));
    RowChunk chunk;
    for (int i = 0; i < rows; ++i) chunk.cells.emplace_back(int64_t{i});
    chunk.rows = static_cast<size_t>(rows);
    SOMLIER_RETURN_IF_ERROR(writer->Append(chunk));
    return commit ? writer->Commit() : OkStatus();
  }

  int64_t Count(const batch::TableRef& table, const std::string& date) {
    auto n = warehouse_->Count(table, "day", date);
    EXPECT_TRUE(n.ok()) << n.status().message();
    return n.ok() ? *n : -1;
  }

  fs::path dir_;
  std::unique_ptr<Warehouse> warehouse_;
};

TEST_F(SqliteWarehouseTest, ReplacesADateAtomicallyInDatasetFiles) {
  const batch::TableRef table{"", "scores", "daily"};
  ASSERT_TRUE(Write(table, "2026-12-01", 150, true).ok());
  EXPECT_TRUE(fs::exists(dir_ / "warehouse" / "scores.db"));
  ASSERT_TRUE(Write(table, "2026-12-02", 70, true).ok());
  EXPECT_EQ(Count(table, "2026-12-01"), 150);
  // Replaced, not appended; the other date untouched.
  ASSERT_TRUE(Write(table, "2026-12-01", 40, true).ok());
  EXPECT_EQ(Count(table, "2026-12-01"), 40);
  EXPECT_EQ(Count(table, "2026-12-02"), 70);
  // A writer that goes without committing changes nothing.
  ASSERT_TRUE(Write(table, "2026-12-01", 999, false).ok());
  EXPECT_EQ(Count(table, "2026-12-01"), 40);

  // Reading in chunks gives every row once.
  auto reader = warehouse_->Select(table, "day", "2026-12-02");
  ASSERT_TRUE(reader.ok()) << reader.status().message();
  ASSERT_EQ((*reader)->columns().size(), 2u);
  EXPECT_EQ((*reader)->columns()[1].type, ColumnType::kDate);
  RowChunk chunk;
  size_t total = 0;
  int chunks = 0;
  do {
    ASSERT_TRUE((*reader)->Next(32, chunk).ok());
    total += chunk.rows;
    ++chunks;
  } while (chunk.rows > 0);
  EXPECT_EQ(total, 70u);
  EXPECT_EQ(chunks, 4);  // 32 + 32 + 6, then the end

  // An existing table without the needed columns is named, not altered.
  Replacement other{
      table,
      {{"id", ColumnType::kInteger}, {"score", ColumnType::kReal}, {"day", ColumnType::kDate}},
      {},
      "day",
      "2026-12-03"};
  EXPECT_NE(Error(warehouse_->Replace(other).status()).find("without the column(s) score"),
            std::string::npos);
}

TEST_F(SqliteWarehouseTest, MissingSourcesAreNamedAndNotCreated) {
  EXPECT_NE(Error(warehouse_->Select({"", "", "features"}, "day", "2026-12-01").status())
                .find("does not exist"),
            std::string::npos);
  EXPECT_FALSE(fs::exists(dir_ / "warehouse.db"));
  EXPECT_NE(Error(warehouse_->Select({"", "nope", "features"}, "day", "2026-12-01").status())
                .find("dataset 'nope' does not exist"),
            std::string::npos);
  EXPECT_FALSE(fs::exists(dir_ / "warehouse" / "nope.db"));
  ASSERT_TRUE(Write({"", "", "t"}, "2026-12-01", 3, true).ok());
  auto missing_column = warehouse_->Select({"", "", "t"}, "load_day", "2026-12-01");
  EXPECT_EQ(missing_column.status().code(), StatusCode::kNotFound);
  EXPECT_NE(Error(warehouse_->Select({"proj-123", "d", "t"}, "day", "2026-12-01").status())
                .find("only a bigquery:// warehouse has projects"),
            std::string::npos);
}

}  // namespace
}  // namespace somlier::offline

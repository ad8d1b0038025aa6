#include "somlier/artifacts/artifact_store.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "temp_dir.h"

namespace somlier {
namespace {

namespace fs = std::filesystem;

class ArtifactStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = ArtifactStore::Open(dir_.path() / "root");
    ASSERT_TRUE(store.ok());
    store_ = std::move(*store);
  }
  std::string Read(const std::string& relative) {
    std::ifstream in(store_->root() / relative, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  testing::TempDir dir_;
  std::unique_ptr<ArtifactStore> store_;
};

TEST_F(ArtifactStoreTest, WriteListStatDelete) {
  ASSERT_TRUE(store_->WriteString("1/run/artifacts/model/MLmodel", "flavors: {}\n").ok());
  ASSERT_TRUE(store_->WriteString("1/run/artifacts/model/model.pkl", std::string(1000, 'x')).ok());
  ASSERT_TRUE(store_->WriteString("1/run/artifacts/metrics.json", "{}").ok());
  EXPECT_EQ(Read("1/run/artifacts/model/MLmodel"), "flavors: {}\n");
  auto listed = store_->List("1/run/artifacts");
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].path, "1/run/artifacts/metrics.json");
  EXPECT_FALSE((*listed)[0].is_dir);
  EXPECT_EQ((*listed)[0].size, 2);
  EXPECT_TRUE((*listed)[1].is_dir);
  EXPECT_TRUE(store_->List("1/nothing/here")->empty());
  EXPECT_TRUE(store_->List("1/run/artifacts/metrics.json")->empty()) << "a file: as MLflow";
  EXPECT_EQ(store_->Stat("1/run/artifacts/model/model.pkl")->size, 1000);
  EXPECT_EQ(store_->Stat("1/run/x").status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(store_->Delete("1/run/artifacts/model").ok());
  EXPECT_EQ(store_->Stat("1/run/artifacts/model/MLmodel").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->Delete("1/run/artifacts/model").code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->Delete("").code(), StatusCode::kInvalidArgument);
}

TEST_F(ArtifactStoreTest, DeleteNeverTakesTheRootOrAWholeExperiment) {
  ASSERT_TRUE(store_->WriteString("1/run/artifacts/a.txt", "a").ok());
  ASSERT_TRUE(store_->WriteString("2/run/artifacts/b.txt", "b").ok());
  for (const char* bad : {"", ".", "./", "1", "1/", "./1", "1/.", "1//run", "1/./run", "/1/run"}) {
    EXPECT_EQ(store_->Delete(bad).code(), StatusCode::kInvalidArgument) << "'" << bad << "'";
  }
  EXPECT_EQ(Read("1/run/artifacts/a.txt"), "a");
  EXPECT_EQ(Read("2/run/artifacts/b.txt"), "b");
  // A run's artifacts/ directory may go, as MLflow's garbage collection deletes it.
  ASSERT_TRUE(store_->Delete("1/run/artifacts").ok());
  EXPECT_EQ(store_->Stat("1/run/artifacts").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(Read("2/run/artifacts/b.txt"), "b");
}

TEST_F(ArtifactStoreTest, PathsCannotEscapeTheRoot) {
  for (const char* bad : {"../outside", "a/../../outside", "/etc/passwd", "a\\b", "a#b", "..",
                          "a/..", ".", "a/./b", "a//b"}) {
    EXPECT_EQ(store_->WriteString(bad, "x").code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(store_->Resolve(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_EQ(store_->WriteString(std::string("a\0b", 3), "x").code(), StatusCode::kInvalidArgument);
  // A symlink inside the root that points outside is refused for reads and writes.
  fs::create_directories(dir_.path() / "outside");
  std::ofstream(dir_.path() / "outside" / "secret") << "secret";
  fs::create_symlink(dir_.path() / "outside", store_->root() / "link");
  EXPECT_EQ(store_->Stat("link/secret").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->WriteString("link/new", "x").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->List("link").status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(fs::exists(dir_.path() / "outside" / "new"));
}

TEST_F(ArtifactStoreTest, UrisMapToPaths) {
  EXPECT_EQ(ArtifactStore::UriFor("1/r/artifacts"), "mlflow-artifacts:/1/r/artifacts");
  EXPECT_EQ(*store_->RelativePathOf("mlflow-artifacts:/1/r/artifacts"), "1/r/artifacts");
  EXPECT_EQ(*store_->RelativePathOf("mlflow-artifacts://host:5000/1/r/"), "1/r");
  EXPECT_EQ(*store_->RelativePathOf((store_->root() / "1/r").string()), "1/r");
  EXPECT_EQ(*store_->RelativePathOf("file://" + (store_->root() / "1").string()), "1");
  EXPECT_EQ(store_->RelativePathOf("s3://bucket/x").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->RelativePathOf("/somewhere/else").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->RelativePathOf("mlflow-artifacts:/1/../../x").status().code(),
            StatusCode::kInvalidArgument);
}

TEST_F(ArtifactStoreTest, AbandonedWritesLeaveNothing) {
  {
    auto file = store_->StartWrite("a/b.bin");
    ASSERT_TRUE(file.ok());
    ASSERT_TRUE((*file)->Append("partial").ok());
    EXPECT_TRUE(store_->List("a")->empty()) << "an unfinished write is not listed";
  }  // destroyed without Commit
  EXPECT_EQ(store_->Stat("a/b.bin").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(fs::is_empty(store_->root() / "a"));
  auto file = store_->StartWrite("a/b.bin");
  ASSERT_TRUE((*file)->Append("whole").ok());
  ASSERT_TRUE((*file)->Commit().ok());
  EXPECT_EQ(Read("a/b.bin"), "whole");
  EXPECT_FALSE((*file)->Commit().ok());
}

TEST_F(ArtifactStoreTest, ImportCopiesTrees) {
  fs::create_directories(dir_.path() / "src" / "sub");
  std::ofstream(dir_.path() / "src" / "a.txt") << "a";
  std::ofstream(dir_.path() / "src" / "sub" / "b.txt") << "b";
  ASSERT_TRUE(store_->Import(dir_.path() / "src", "dest").ok());
  EXPECT_EQ(Read("dest/a.txt"), "a");
  EXPECT_EQ(Read("dest/sub/b.txt"), "b");
  EXPECT_EQ(store_->Import(dir_.path() / "missing", "x").code(), StatusCode::kNotFound);
}

// Messages a client may see name the client's value, never the root or another path of
// the server's.
TEST_F(ArtifactStoreTest, ErrorsNeverQuoteServerPaths) {
  const std::string root = store_->root().string();
  const std::string outside = dir_.path().string() + "/elsewhere/1/r";
  std::vector<Status> errors = {
      store_->RelativePathOf(outside).status(),
      store_->RelativePathOf("file://" + outside).status(),
      store_->Import(dir_.path() / "missing", "1/r/artifacts/model.pkl"),
  };
  ASSERT_TRUE(store_->WriteString("1/r/artifacts/dir/file", "x").ok());
  ASSERT_TRUE(store_->WriteString("1/r/artifacts/plain", "x").ok());
  errors.push_back(store_->StartWrite("1/r/artifacts/dir").status());
  errors.push_back(store_->StartWrite("1/r/artifacts/plain/under").status());
  for (const Status& s : errors) {
    EXPECT_FALSE(s.ok());
    EXPECT_NE(s.code(), StatusCode::kInternal) << s.ToString() << " (the caller can fix these)";
    EXPECT_EQ(s.message().find(root), std::string::npos) << s.message();
    EXPECT_EQ(s.message().find(dir_.path().string() + "/missing"), std::string::npos)
        << s.message();
  }
  EXPECT_NE(errors[0].message().find(outside), std::string::npos) << "the caller's own value";
  EXPECT_NE(errors[2].message().find("'1/r/artifacts/model.pkl'"), std::string::npos);
  EXPECT_EQ(errors[3].message(),
            "artifact '1/r/artifacts/dir' is a directory; a file cannot be written there");
  EXPECT_EQ(errors[4].message(),
            "artifact '1/r/artifacts/plain/under' cannot be written: '1/r/artifacts/plain' is a "
            "file, not a directory");
}

}  // namespace
}  // namespace somlier

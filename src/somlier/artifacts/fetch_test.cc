#include "somlier/artifacts/fetch.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "temp_dir.h"

namespace somlier {
namespace {

std::string Read(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class FetchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.Get("/file.bin", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(std::string(300000, 'z'), "application/octet-stream");
    });
    server_.Get("/moved", [](const httplib::Request&, httplib::Response& res) {
      res.set_redirect("/file.bin");
    });
    server_.Get("/broken", [](const httplib::Request&, httplib::Response& res) {
      res.status = 503;
      res.set_content("try later", "text/plain");
    });
    server_.Get("/forbidden", [](const httplib::Request&, httplib::Response& res) {
      res.status = 403;
    });
    // A GCS emulator's JSON API and an S3-compatible store (path-style).
    server_.Get("/storage/v1/b/bkt/o/(.+)", [](const httplib::Request& req, httplib::Response& res) {
      if (req.get_param_value("alt") != "media" || req.matches[1] != "dir/w.bin") {
        res.status = 404;
        return;
      }
      res.set_content("gcs-object", "application/octet-stream");
    });
    server_.Get("/bkt/dir/w.bin", [](const httplib::Request& req, httplib::Response& res) {
      const std::string auth = req.get_header_value("Authorization");
      if (!auth.starts_with("AWS4-HMAC-SHA256 Credential=AKID/") ||
          req.get_header_value("x-amz-content-sha256").size() != 64) {
        res.status = 403;
        return;
      }
      res.set_content("s3-object", "application/octet-stream");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    ASSERT_GT(port_, 0);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    for (int i = 0; i < 500 && !server_.is_running(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_TRUE(server_.is_running());
  }
  void TearDown() override {
    server_.stop();
    thread_.join();
  }
  std::string Url(const std::string& path) {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

  testing::TempDir dir_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

TEST_F(FetchTest, HttpFollowsRedirects) {
  const auto dest = dir_.path() / "a" / "b" / "out.bin";
  ASSERT_TRUE(FetchToFile(Url("/moved"), dest).ok());
  EXPECT_EQ(Read(dest), std::string(300000, 'z'));
}

TEST_F(FetchTest, HttpErrorsLeaveNoFile) {
  const auto dest = dir_.path() / "out.bin";
  EXPECT_EQ(FetchToFile(Url("/nope"), dest).code(), StatusCode::kNotFound);
  EXPECT_EQ(FetchToFile(Url("/broken"), dest).code(), StatusCode::kUnavailable);
  EXPECT_EQ(FetchToFile(Url("/forbidden"), dest).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(FetchToFile("http://127.0.0.1:1/x", dest).code(), StatusCode::kUnavailable);
  EXPECT_TRUE(std::filesystem::is_empty(dir_.path())) << "no partial or temporary files";
}

TEST_F(FetchTest, LocalFilesAndOtherSchemes) {
  std::ofstream(dir_.file("src.txt")) << "local";
  ASSERT_TRUE(FetchToFile(dir_.file("src.txt"), dir_.path() / "c1").ok());
  ASSERT_TRUE(FetchToFile("file://" + dir_.file("src.txt"), dir_.path() / "c2").ok());
  EXPECT_EQ(Read(dir_.path() / "c2"), "local");
  EXPECT_EQ(FetchToFile(dir_.file("missing"), dir_.path() / "c3").code(), StatusCode::kNotFound);
  EXPECT_EQ(FetchToFile("gs://bucket/x", dir_.path() / "c4", {}).code(),
            StatusCode::kFailedPrecondition);  // no credentials of any kind
  EXPECT_EQ(FetchToFile("ftp://host/x", dir_.path() / "c5").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(FetchToFile("", dir_.path() / "c6").code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(std::filesystem::exists(dir_.path() / "c3"));
}

TEST_F(FetchTest, ObjectStorageThroughAnEmulatorAndACompatibleEndpoint) {
  const Environment gcs = {{"STORAGE_EMULATOR_HOST", "127.0.0.1:" + std::to_string(port_)}};
  ASSERT_TRUE(FetchToFile("gs://bkt/dir/w.bin", dir_.path() / "g", gcs).ok());
  EXPECT_EQ(Read(dir_.path() / "g"), "gcs-object");
  EXPECT_EQ(FetchToFile("gs://bkt/dir/none.bin", dir_.path() / "g2", gcs).code(),
            StatusCode::kNotFound);

  Environment s3 = {{"AWS_ENDPOINT_URL_S3", Url("")},
                    {"AWS_ACCESS_KEY_ID", "AKID"},
                    {"AWS_SECRET_ACCESS_KEY", "secret"}};
  ASSERT_TRUE(FetchToFile("s3://bkt/dir/w.bin", dir_.path() / "s", s3).ok());
  EXPECT_EQ(Read(dir_.path() / "s"), "s3-object");
  s3.erase("AWS_ACCESS_KEY_ID");  // unsigned: refused by this store
  auto refused = FetchToFile("s3://bkt/dir/w.bin", dir_.path() / "s2", s3);
  EXPECT_EQ(refused.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.message().find("s3://bkt/dir/w.bin"), std::string::npos) << refused.message();
  EXPECT_FALSE(std::filesystem::exists(dir_.path() / "s2"));
}

}  // namespace
}  // namespace somlier

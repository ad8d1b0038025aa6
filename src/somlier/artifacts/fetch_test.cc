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
    server_.Get("/forbidden",
                [](const httplib::Request&, httplib::Response& res) { res.status = 403; });
    // Redirects elsewhere: to the query's `to`, or around in a circle.
    server_.Get("/away", [](const httplib::Request& req, httplib::Response& res) {
      res.set_redirect(req.get_param_value("to"));
    });
    server_.Get("/loop",
                [](const httplib::Request&, httplib::Response& res) { res.set_redirect("loop"); });
    // A GCS emulator's JSON API and an S3-compatible store (path-style).
    server_.Get(
        "/storage/v1/b/bkt/o/(.+)", [this](const httplib::Request& req, httplib::Response& res) {
          if (req.matches[1] == "elsewhere") {  // an emulator that redirects to another server
            res.set_redirect(redirect_target_);
            return;
          }
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

  std::string redirect_target_;
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

TEST_F(FetchTest, RedirectsAreBounded) {
  EXPECT_TRUE(FetchToFile(Url("/away?to=/moved"), dir_.path() / "two-hops", {}).ok());
  auto looping = FetchToFile(Url("/loop"), dir_.path() / "loop", {});
  EXPECT_EQ(looping.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(looping.message().find("redirects more than 5 times"), std::string::npos)
      << looping.message();
  auto to_file = FetchToFile(Url("/away?to=file:///etc/passwd"), dir_.path() / "file", {});
  EXPECT_EQ(to_file.code(), StatusCode::kFailedPrecondition) << to_file.message();
  EXPECT_NE(to_file.message().find("not an http(s) URL"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir_.path() / "loop"));
  EXPECT_FALSE(std::filesystem::exists(dir_.path() / "file"));
}

// ---- Address classification ----

AddressKind Kind(const std::string& text) {
  auto address = IpAddress::Parse(text);
  EXPECT_TRUE(address.has_value()) << text;
  return address ? ClassifyAddress(*address) : AddressKind::kPublic;
}

TEST(ClassifyAddressTest, IPv4Ranges) {
  const std::pair<const char*, AddressKind> cases[] = {
      {"127.0.0.1", AddressKind::kLoopback},
      {"127.255.255.254", AddressKind::kLoopback},
      {"10.0.0.1", AddressKind::kPrivate},
      {"10.255.255.255", AddressKind::kPrivate},
      {"172.16.0.1", AddressKind::kPrivate},
      {"172.31.255.255", AddressKind::kPrivate},
      {"192.168.0.1", AddressKind::kPrivate},
      {"192.168.255.255", AddressKind::kPrivate},
      {"100.64.0.1", AddressKind::kPrivate},  // shared (carrier-grade NAT)
      {"100.127.255.255", AddressKind::kPrivate},
      {"169.254.169.254", AddressKind::kLinkLocal},  // cloud metadata services
      {"169.254.0.1", AddressKind::kLinkLocal},
      {"0.0.0.0", AddressKind::kUnspecified},
      {"0.1.2.3", AddressKind::kUnspecified},
      {"224.0.0.1", AddressKind::kMulticast},
      {"239.255.255.250", AddressKind::kMulticast},
      {"240.0.0.1", AddressKind::kReserved},
      {"255.255.255.255", AddressKind::kReserved},
      {"192.0.0.170", AddressKind::kReserved},
      {"198.18.0.1", AddressKind::kReserved},
      {"192.0.2.1", AddressKind::kReserved},
      // Just outside the ranges.
      {"8.8.8.8", AddressKind::kPublic},
      {"1.1.1.1", AddressKind::kPublic},
      {"126.255.255.255", AddressKind::kPublic},
      {"128.0.0.1", AddressKind::kPublic},
      {"11.0.0.1", AddressKind::kPublic},
      {"172.15.255.255", AddressKind::kPublic},
      {"172.32.0.1", AddressKind::kPublic},
      {"192.167.255.255", AddressKind::kPublic},
      {"192.169.0.1", AddressKind::kPublic},
      {"100.63.255.255", AddressKind::kPublic},
      {"100.128.0.1", AddressKind::kPublic},
      {"169.253.255.255", AddressKind::kPublic},
      {"169.255.0.1", AddressKind::kPublic},
      {"223.255.255.255", AddressKind::kPublic},
      {"1.0.0.0", AddressKind::kPublic},
  };
  for (const auto& [text, kind] : cases) {
    EXPECT_EQ(DescribeAddressKind(Kind(text)), DescribeAddressKind(kind)) << text;
  }
}

TEST(ClassifyAddressTest, IPv6RangesAndEmbeddedIPv4) {
  const std::pair<const char*, AddressKind> cases[] = {
      {"::1", AddressKind::kLoopback},
      {"::", AddressKind::kUnspecified},
      {"fc00::1", AddressKind::kPrivate},
      {"fd12:3456:789a::1", AddressKind::kPrivate},
      {"fec0::1", AddressKind::kPrivate},  // site-local (deprecated)
      {"fe80::1", AddressKind::kLinkLocal},
      {"febf:ffff::1", AddressKind::kLinkLocal},
      {"ff02::1", AddressKind::kMulticast},
      {"ff05::1:3", AddressKind::kMulticast},
      // IPv4-mapped: the IPv4 address's kind.
      {"::ffff:127.0.0.1", AddressKind::kLoopback},
      {"::ffff:7f00:1", AddressKind::kLoopback},
      {"::ffff:10.1.2.3", AddressKind::kPrivate},
      {"::ffff:172.16.0.1", AddressKind::kPrivate},
      {"::ffff:192.168.1.1", AddressKind::kPrivate},
      {"::ffff:169.254.169.254", AddressKind::kLinkLocal},
      {"::ffff:0.0.0.0", AddressKind::kUnspecified},
      {"::ffff:224.0.0.1", AddressKind::kMulticast},
      {"::ffff:8.8.8.8", AddressKind::kPublic},
      // IPv4-compatible (deprecated) and NAT64.
      {"::127.0.0.1", AddressKind::kLoopback},
      {"::10.0.0.1", AddressKind::kPrivate},
      {"::2", AddressKind::kUnspecified},  // ::0.0.0.2
      {"64:ff9b::127.0.0.1", AddressKind::kLoopback},
      {"64:ff9b::a9fe:a9fe", AddressKind::kLinkLocal},
      {"64:ff9b::8.8.8.8", AddressKind::kPublic},
      // Public.
      {"2001:4860:4860::8888", AddressKind::kPublic},
      {"2606:4700::1111", AddressKind::kPublic},
      {"fbff::1", AddressKind::kPublic},
      {"fe00::1", AddressKind::kPublic},
      {"::1:0:0:1", AddressKind::kPublic},
  };
  for (const auto& [text, kind] : cases) {
    EXPECT_EQ(DescribeAddressKind(Kind(text)), DescribeAddressKind(kind)) << text;
  }
}

TEST(ClassifyAddressTest, ParseAndDescribe) {
  EXPECT_FALSE(IpAddress::Parse("localhost").has_value());
  EXPECT_FALSE(IpAddress::Parse("[::1]").has_value());
  EXPECT_FALSE(IpAddress::Parse("127.1").has_value());  // inet_pton: dotted quads only
  EXPECT_EQ(IpAddress::Parse("::ffff:127.0.0.1")->ToString(), "::ffff:127.0.0.1");
  EXPECT_EQ(IpAddress::Parse("10.0.0.1")->ToString(), "10.0.0.1");
  EXPECT_EQ(DescribeAddressKind(AddressKind::kLoopback), "a loopback address");
  EXPECT_EQ(DescribeAddressKind(AddressKind::kLinkLocal), "a link-local address");
}

TEST(ResolveHostTest, ResolvesNamesAndLiterals) {
  auto localhost = ResolveHost("localhost");
  ASSERT_TRUE(localhost.ok()) << localhost.status().message();
  for (const IpAddress& address : *localhost) {
    EXPECT_EQ(ClassifyAddress(address), AddressKind::kLoopback) << address.ToString();
  }
  // Numeric forms inet_aton accepts resolve to what they mean, not to a name.
  auto decimal = ResolveHost("2130706433");
  ASSERT_TRUE(decimal.ok());
  EXPECT_EQ(decimal->front().ToString(), "127.0.0.1");
  EXPECT_EQ(ResolveHost("no-such-host.invalid").status().code(), StatusCode::kUnavailable);
}

// ---- The public-only policy ----

const char kHint[] =
    "a server fetches only public sources unless started with "
    "--allow_local_sources";

// A resolver for names of the tests' own: models.example.com is this machine (standing in for a
// public host the operator configured), internal.example.com a private address, and
// mixed.example.com both a public and a private one.
Result<std::vector<IpAddress>> TestResolve(const std::string& host) {
  if (host == "models.example.com") return std::vector{*IpAddress::Parse("127.0.0.1")};
  if (host == "internal.example.com") return std::vector{*IpAddress::Parse("10.0.0.7")};
  if (host == "mixed.example.com") {
    return std::vector{*IpAddress::Parse("93.184.216.34"), *IpAddress::Parse("192.168.1.20")};
  }
  return ResolveHost(host);
}

FetchPolicy PublicOnly() {
  FetchPolicy policy = FetchPolicy::PublicOnly(kHint);
  policy.resolve = TestResolve;
  return policy;
}

TEST_F(FetchTest, PublicOnlyRefusesLocalFilesWithoutLookingAtThem) {
  std::ofstream(dir_.file("secret.txt")) << "secret";
  for (const std::string& uri : {dir_.file("secret.txt"), "file://" + dir_.file("secret.txt"),
                                 dir_.file("missing.txt"), std::string("relative/path")}) {
    auto refused = FetchToFile(uri, dir_.path() / "out", {}, PublicOnly());
    EXPECT_EQ(refused.code(), StatusCode::kInvalidArgument) << uri;  // never NotFound
    EXPECT_EQ(refused.message(),
              "refusing to fetch " + uri + ": it names a file on this machine; " + kHint);
  }
  EXPECT_FALSE(std::filesystem::exists(dir_.path() / "out"));
}

TEST_F(FetchTest, PublicOnlyRefusesLocalAndPrivateAddressesByWhatTheyResolveTo) {
  const std::string port = std::to_string(port_);
  const std::pair<std::string, std::string> cases[] = {
      {"http://127.0.0.1:" + port + "/file.bin", "127.0.0.1 is a loopback address"},
      {"http://localhost:" + port + "/file.bin", "localhost resolves to "},
      {"http://2130706433:" + port + "/file.bin", "2130706433 resolves to 127.0.0.1, a loopback"},
      {"http://0x7f.1:" + port + "/file.bin", "resolves to 127.0.0.1, a loopback address"},
      {"http://[::1]:" + port + "/file.bin", "::1 is a loopback address"},
      {"http://[::ffff:127.0.0.1]:" + port + "/file.bin", "::ffff:127.0.0.1 is a loopback address"},
      {"http://0.0.0.0:" + port + "/file.bin", "0.0.0.0 is an unspecified address"},
      {"http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"},
      {"http://user:pw@10.1.2.3/x", "10.1.2.3 is a private address"},
      {"https://internal.example.com/model.pkl",
       "internal.example.com resolves to 10.0.0.7, a private address"},
      {"http://mixed.example.com/model.pkl",
       "mixed.example.com resolves to 192.168.1.20, a private address"},
  };
  for (const auto& [uri, why] : cases) {
    auto refused = FetchToFile(uri, dir_.path() / "out", {}, PublicOnly());
    EXPECT_EQ(refused.code(), StatusCode::kInvalidArgument) << uri << ": " << refused.message();
    EXPECT_NE(refused.message().find(why), std::string::npos) << refused.message();
    EXPECT_TRUE(refused.message().starts_with("refusing to fetch http")) << refused.message();
    EXPECT_TRUE(refused.message().ends_with(kHint)) << refused.message();
    EXPECT_EQ(refused.message().find("pw"), std::string::npos) << refused.message();
  }
  EXPECT_EQ(
      FetchToFile("http://no-such-host.invalid/x", dir_.path() / "out", {}, PublicOnly()).code(),
      StatusCode::kUnavailable);
  EXPECT_TRUE(std::filesystem::is_empty(dir_.path()));
  // The same URLs are fine without the policy.
  EXPECT_TRUE(FetchToFile(Url("/file.bin"), dir_.path() / "any", {}).ok());
}

TEST_F(FetchTest, PublicOnlyChecksEveryRedirectAndConnectsToTheCheckedAddress) {
  // models.example.com is configured (as an S3 endpoint) and resolves, through the test's
  // resolver only, to this machine: reading from it works only if the connection goes to the
  // address that was checked rather than to a second lookup.
  const std::string origin = "http://models.example.com:" + std::to_string(port_);
  const Environment env = {{"AWS_ENDPOINT_URL", origin}};
  ASSERT_TRUE(FetchToFile(origin + "/moved", dir_.path() / "ok", env, PublicOnly()).ok());
  EXPECT_EQ(Read(dir_.path() / "ok"), std::string(300000, 'z'));

  // Each redirect elsewhere is checked like the first request.
  const std::pair<std::string, std::string> cases[] = {
      {Url("/file.bin"),
       "it redirects to " + Url("/file.bin") + ", and 127.0.0.1 is a loopback address; "},
      {"http://localhost:" + std::to_string(port_) + "/file.bin", "localhost resolves to "},
      {"http://internal.example.com/file.bin",
       "it redirects to http://internal.example.com/file.bin, and internal.example.com resolves "
       "to 10.0.0.7, a private address; "},
      {"//169.254.169.254/latest", "169.254.169.254 is a link-local address"},
  };
  for (const auto& [to, why] : cases) {
    const std::string uri = origin + "/away?to=" + httplib::detail::encode_query_param(to);
    auto refused = FetchToFile(uri, dir_.path() / "out", env, PublicOnly());
    EXPECT_EQ(refused.code(), StatusCode::kInvalidArgument) << to << ": " << refused.message();
    EXPECT_TRUE(refused.message().starts_with("refusing to fetch " + origin + "/away: "))
        << refused.message();
    EXPECT_NE(refused.message().find(why), std::string::npos) << refused.message();
    EXPECT_TRUE(refused.message().ends_with(kHint)) << refused.message();
  }
  EXPECT_FALSE(std::filesystem::exists(dir_.path() / "out"));
  // Without the endpoint configured, the first request is refused already.
  auto unconfigured = FetchToFile(origin + "/moved", dir_.path() / "out", {}, PublicOnly());
  EXPECT_NE(unconfigured.message().find("models.example.com resolves to 127.0.0.1, a loopback"),
            std::string::npos)
      << unconfigured.message();
}

TEST_F(FetchTest, PublicOnlyAllowsTheObjectStorageEndpointsTheOperatorConfigured) {
  const std::string host = "127.0.0.1:" + std::to_string(port_);
  const Environment gcs = {{"STORAGE_EMULATOR_HOST", host}};
  ASSERT_TRUE(FetchToFile("gs://bkt/dir/w.bin", dir_.path() / "g", gcs, PublicOnly()).ok());
  EXPECT_EQ(Read(dir_.path() / "g"), "gcs-object");
  for (const char* variable :
       {"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "MLFLOW_S3_ENDPOINT_URL"}) {
    const Environment s3 = {{variable, "http://" + host},
                            {"AWS_ACCESS_KEY_ID", "AKID"},
                            {"AWS_SECRET_ACCESS_KEY", "secret"}};
    ASSERT_TRUE(FetchToFile("s3://bkt/dir/w.bin", dir_.path() / variable, s3, PublicOnly()).ok())
        << variable;
    EXPECT_EQ(Read(dir_.path() / variable), "s3-object");
  }
  // An emulator's redirect to another server on this machine is refused: only the configured
  // host and port are trusted.
  redirect_target_ = "http://127.0.0.1:1/elsewhere";
  auto refused = FetchToFile("gs://bkt/elsewhere", dir_.path() / "e", gcs, PublicOnly());
  EXPECT_EQ(refused.code(), StatusCode::kInvalidArgument) << refused.message();
  EXPECT_EQ(refused.message(),
            "refusing to fetch gs://bkt/elsewhere: it redirects to http://127.0.0.1:1/elsewhere, "
            "and 127.0.0.1 is a loopback address; " +
                std::string(kHint));
  redirect_target_ = Url("/file.bin");  // the same host and port: allowed
  ASSERT_TRUE(FetchToFile("gs://bkt/elsewhere", dir_.path() / "e", gcs, PublicOnly()).ok());
  EXPECT_EQ(Read(dir_.path() / "e"), std::string(300000, 'z'));
}

}  // namespace
}  // namespace somlier

#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include "somlier/core/ids.h"
#include "somlier/core/result.h"
#include "somlier/core/settings.h"
#include "somlier/core/status.h"
#include "somlier/core/strings.h"
#include "somlier/core/time.h"
#include "somlier/core/url.h"
#include "temp_dir.h"

namespace somlier {
namespace {

TEST(Status, CodeTableMapsToHttpAndExitCodes) {
  EXPECT_EQ(InvalidArgument("x").http_status(), 422);
  EXPECT_EQ(NotFound("x").http_status(), 404);
  EXPECT_EQ(AlreadyExists("x").http_status(), 409);
  EXPECT_EQ(FailedPrecondition("x").http_status(), 412);
  EXPECT_EQ(Unavailable("x").http_status(), 503);
  EXPECT_EQ(Internal("x").http_status(), 500);
  EXPECT_EQ(Unimplemented("x").http_status(), 501);
  // The same table answers MLflow's dialect, the scoring protocols', and reads answers back.
  EXPECT_EQ(HttpStatusFor(StatusCode::kInvalidArgument, HttpDialect::kMlflow), 400);
  EXPECT_EQ(InfoFor(StatusCode::kAlreadyExists).mlflow_error_code, "RESOURCE_ALREADY_EXISTS");
  EXPECT_EQ(HttpStatusFor(StatusCode::kInvalidArgument, HttpDialect::kScoring), 400);
  EXPECT_EQ(HttpStatusFor(StatusCode::kFailedPrecondition, HttpDialect::kScoring), 500);
  for (StatusCode code :
       {StatusCode::kInvalidArgument, StatusCode::kNotFound, StatusCode::kAlreadyExists,
        StatusCode::kFailedPrecondition, StatusCode::kUnavailable, StatusCode::kInternal,
        StatusCode::kUnimplemented}) {
    EXPECT_EQ(StatusCodeForHttp(HttpStatusFor(code, HttpDialect::kSomlier)), code)
        << InfoFor(code).name;
  }
  EXPECT_EQ(StatusCodeForHttp(400), StatusCode::kInvalidArgument);
  EXPECT_EQ(StatusCodeForHttp(401), StatusCode::kFailedPrecondition);
  EXPECT_EQ(StatusCodeForHttp(413), StatusCode::kInvalidArgument);
  EXPECT_EQ(StatusCodeForHttp(418), StatusCode::kInternal);
  EXPECT_EQ(OkStatus().exit_code(), 0);
  // Every failure has its own non-zero exit code.
  std::set<int> codes;
  for (auto code : {StatusCode::kInvalidArgument, StatusCode::kNotFound, StatusCode::kAlreadyExists,
                    StatusCode::kFailedPrecondition, StatusCode::kUnavailable,
                    StatusCode::kInternal, StatusCode::kUnimplemented}) {
    EXPECT_NE(InfoFor(code).exit_code, 0);
    codes.insert(InfoFor(code).exit_code);
  }
  EXPECT_EQ(codes.size(), 7u);
}

TEST(Status, ContextAndToString) {
  Status s = NotFound("run 'abc' does not exist").WithContext("search");
  EXPECT_EQ(s.message(), "search: run 'abc' does not exist");
  EXPECT_EQ(s.ToString(), "NOT_FOUND: search: run 'abc' does not exist");
  EXPECT_TRUE(OkStatus().WithContext("x").ok());
}

Result<int> Half(int v) {
  if (v % 2) return InvalidArgument("odd");
  return v / 2;
}

Result<int> Quarter(int v) {
  SOMLIER_ASSIGN_OR_RETURN(int half, Half(v));
  SOMLIER_ASSIGN_OR_RETURN(int quarter, Half(half));
  return quarter;
}

TEST(Result, PropagatesErrors) {
  EXPECT_EQ(*Quarter(8), 2);
  EXPECT_EQ(Quarter(6).status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Quarter(4).status().ok());
}

TEST(Ids, RunIdsAre32HexAndUnique) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string id = NewRunId();
    EXPECT_TRUE(IsValidRunId(id)) << id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
  EXPECT_FALSE(IsValidRunId("ABCDEF0123456789abcdef0123456789"));
  EXPECT_FALSE(IsValidRunId("abc"));
}

TEST(Time, IsoFormats) {
  EXPECT_EQ(FormatUtcIsoMillis(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatUtcIsoMillis(1660729824775), "2022-08-17T09:50:24.775Z");
  EXPECT_EQ(FormatLocalIsoMicros(NowMicros()).size(), 26u);
}

TEST(Strings, Helpers) {
  EXPECT_EQ(Trim("  a b \t\n"), "a b");
  EXPECT_EQ(Split("a,,b", ','), (std::vector<std::string>{"a", "", "b"}));
  EXPECT_EQ(Join({"a", "b"}, ", "), "a, b");
  EXPECT_EQ(PythonListRepr({"dev", "it's", "back\\slash"}), R"(['dev', "it's", 'back\\slash'])");
  EXPECT_EQ(PythonListRepr({}), "[]");
}

TEST(Url, RedactsPasswords) {
  EXPECT_EQ(RedactUrlPassword("postgresql://u:secret@h:5432/db"), "postgresql://u:***@h:5432/db");
  EXPECT_EQ(RedactUrlPassword("postgresql://u@h/db"), "postgresql://u@h/db");
  EXPECT_EQ(RedactUrlPassword("sqlite:////x/y.db"), "sqlite:////x/y.db");
  EXPECT_EQ(RedactUrlPassword("postgresql://u@h/db?sslmode=require&password=s3&x=1"),
            "postgresql://u@h/db?sslmode=require&password=***&x=1");
  EXPECT_EQ(RedactUrlPassword("postgresql://h/db?sslpassword=k&password=p"),
            "postgresql://h/db?sslpassword=***&password=***");
  EXPECT_EQ(RedactUrlPassword("http://h/?no_password=1"), "http://h/?no_password=1");
  EXPECT_EQ(RedactUrlCredentials("https://ghp_secret@github.com/o/r.git"),
            "https://***@github.com/o/r.git");
  EXPECT_EQ(RedactUrlCredentials("https://x-access-token:ghs_secret@github.com/o/r.git"),
            "https://x-access-token:***@github.com/o/r.git");
  EXPECT_EQ(RedactUrlCredentials("ssh://git@github.com/o/r.git"), "ssh://git@github.com/o/r.git");
  EXPECT_EQ(RedactUrlCredentials("git@github.com:o/r.git"), "git@github.com:o/r.git");
  EXPECT_EQ(RedactUrlCredentials("https://github.com/o/r.git"), "https://github.com/o/r.git");
}

TEST(Settings, DefaultsFollowHome) {
  auto s = LoadSettings({{"HOME", "/home/kim"}});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->home, "/home/kim/.somlier");
  EXPECT_EQ(s->database_url, "sqlite:////home/kim/.somlier/somlier.db");
  EXPECT_EQ(s->artifact_root, "/home/kim/.somlier/artifacts");
  EXPECT_EQ(s->PythonOrDefault(), "python3");
  EXPECT_EQ(s->log_level, LogLevel::kInfo);
}

TEST(Settings, EnvironmentWinsOverFile) {
  testing::TempDir dir;
  std::ofstream(dir.file("config.yaml")) << "database_url: postgresql://db/x\n"
                                            "python: /opt/py/bin/python\nlog_level: debug\n"
                                            "kubernetes:\n  namespace: ml-team\n";
  auto s =
      LoadSettings({{"SOMLIER_HOME", dir.path().string()}, {"SOMLIER_PYTHON", "/usr/bin/python3"}});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->database_url, "postgresql://db/x");
  EXPECT_EQ(s->python, "/usr/bin/python3");
  EXPECT_EQ(s->log_level, LogLevel::kDebug);
  EXPECT_EQ(s->config_file, dir.file("config.yaml"));
}

TEST(Settings, BadValuesAreNamed) {
  testing::TempDir dir;
  std::ofstream(dir.file("c.yaml")) << "databse_url: x\n";
  auto s = LoadSettings({{"SOMLIER_CONFIG", dir.file("c.yaml")}});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("databse_url"), std::string::npos);
  s = LoadSettings({{"HOME", "/h"}, {"SOMLIER_LOG_LEVEL", "loud"}});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("loud"), std::string::npos);
  s = LoadSettings({{"SOMLIER_CONFIG", dir.file("missing.yaml")}});
  EXPECT_EQ(s.status().code(), StatusCode::kNotFound);
  std::ofstream(dir.file("k.yaml")) << "kubernetes: somlier\n";
  s = LoadSettings({{"SOMLIER_CONFIG", dir.file("k.yaml")}});
  EXPECT_NE(s.status().message().find("'kubernetes' must be a mapping"), std::string::npos);
  std::ofstream(dir.file("bad.yaml")) << "a: [1\n";
  s = LoadSettings({{"SOMLIER_CONFIG", dir.file("bad.yaml")}});
  EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.status().message().find("bad.yaml:2:1"), std::string::npos) << s.status().message();
}

}  // namespace
}  // namespace somlier

#include "somlier/artifacts/object_storage.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>

#include "somlier/core/base64.h"
#include "temp_dir.h"

namespace somlier {
namespace {

// AWS's published Signature Version 4 example for S3 "GET Object" (the sig-v4 header-based
// authentication examples): examplebucket/test.txt with a Range header, 2013-05-24.
TEST(SignAwsV4, MatchesAwsPublishedGetObjectExample) {
  const AwsCredentials credentials{"AKIAIOSFODNN7EXAMPLE",
                                   "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""};
  const std::string empty = Sha256Hex("");
  EXPECT_EQ(empty, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  const std::string authorization =
      SignAwsV4("GET", "/test.txt", "",
                {{"host", "examplebucket.s3.amazonaws.com"},
                 {"range", "bytes=0-9"},
                 {"x-amz-content-sha256", empty},
                 {"x-amz-date", "20130524T000000Z"}},
                empty, credentials, "us-east-1", "s3", "20130524T000000Z");
  EXPECT_EQ(authorization,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(S3GetRequest, PathStyleOnAConfiguredEndpointAndSignedWithCredentials) {
  Environment env = {{"AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9000/"},
                     {"AWS_ACCESS_KEY_ID", "id"},
                     {"AWS_SECRET_ACCESS_KEY", "secret"},
                     {"AWS_REGION", "eu-west-1"}};
  auto get = S3GetRequest({"models", "a b/m.pkl"}, env);
  ASSERT_TRUE(get.ok()) << get.status().message();
  EXPECT_EQ(get->url, "http://127.0.0.1:9000/models/a%20b/m.pkl");
  ASSERT_TRUE(get->headers.count("Authorization"));
  EXPECT_NE(get->headers["Authorization"].find("Credential=id/"), std::string::npos);
  EXPECT_NE(get->headers["Authorization"].find("/eu-west-1/s3/aws4_request"), std::string::npos);
  EXPECT_EQ(get->headers["Host"], "127.0.0.1:9000");  // sent exactly as signed

  auto anonymous = S3GetRequest({"b", "k"}, {});
  ASSERT_TRUE(anonymous.ok());
  EXPECT_EQ(anonymous->url, "https://b.s3.us-east-1.amazonaws.com/k");
  EXPECT_TRUE(anonymous->headers.empty());
  auto dotted = S3GetRequest({"my.bucket", "k"}, {});
  ASSERT_TRUE(dotted.ok());
  EXPECT_EQ(dotted->url, "https://s3.us-east-1.amazonaws.com/my.bucket/k");

  auto bad = S3GetRequest({"b", "k"}, {{"AWS_ENDPOINT_URL", "minio:9000"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("AWS_ENDPOINT_URL 'minio:9000'"), std::string::npos);
}

TEST(ParseBucketUri, SplitsBucketAndObjectAndRefusesIncompleteUris) {
  auto ok = ParseBucketUri("gs://bucket/dir/model.pth");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->bucket, "bucket");
  EXPECT_EQ(ok->key, "dir/model.pth");
  for (const char* bad : {"gs://bucket", "gs://bucket/", "s3:///key", "gs://"}) {
    EXPECT_EQ(ParseBucketUri(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(GcsGetRequest, UsesTheEmulatorWithoutCredentialsAndEncodesTheObjectName) {
  auto get = GcsGetRequest({"bkt", "dir/m 1.pth"}, {{"STORAGE_EMULATOR_HOST", "localhost:4443"}});
  ASSERT_TRUE(get.ok()) << get.status().message();
  EXPECT_EQ(get->url, "http://localhost:4443/storage/v1/b/bkt/o/dir%2Fm%201.pth?alt=media");
  EXPECT_TRUE(get->headers.empty());
}

TEST(GcsGetRequest, AKeyFileOfAnotherShapeIsRefusedByName) {
  testing::TempDir dir;
  for (const char* key :
       {R"({"type": 7, "client_email": "a@b", "private_key": "k"})",
        R"({"type": "service_account", "client_email": ["a"], "private_key": "k"})",
        R"({"type": "service_account", "client_email": "a", "private_key": "k",
                              "token_uri": 5})",
        R"(["not", "an", "object"])"}) {
    const std::string file = dir.file("key.json");
    std::ofstream(file) << key;
    auto get = GcsGetRequest({"bkt", "m"}, {{"GOOGLE_APPLICATION_CREDENTIALS", file}});
    ASSERT_FALSE(get.ok()) << key;
    EXPECT_EQ(get.status().code(), StatusCode::kFailedPrecondition) << key;
    EXPECT_NE(get.status().message().find("is not a service-account key file"), std::string::npos)
        << get.status().message();
  }
}

std::string Base64UrlDecode(std::string text) {
  for (char& c : text) {
    if (c == '-') c = '+';
    if (c == '_') c = '/';
  }
  while (text.size() % 4) text += '=';
  return Base64Decode(text).value_or("");
}

TEST(ServiceAccountJwt, IsAnRs256JwtTheKeysPublicHalfVerifies) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_RSA_gen(2048), &EVP_PKEY_free);
  ASSERT_TRUE(key);
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  ASSERT_EQ(PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr),
            1);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  const std::string pem(data, static_cast<size_t>(size));

  auto jwt = ServiceAccountJwt("sa@p.iam.gserviceaccount.com", pem, "http://127.0.0.1/token",
                               "scope-x", 1700000000);
  ASSERT_TRUE(jwt.ok()) << jwt.status().message();
  const size_t dot1 = jwt->find('.');
  const size_t dot2 = jwt->rfind('.');
  ASSERT_NE(dot1, dot2);
  auto header = nlohmann::json::parse(Base64UrlDecode(jwt->substr(0, dot1)));
  EXPECT_EQ(header["alg"], "RS256");
  auto claims = nlohmann::json::parse(Base64UrlDecode(jwt->substr(dot1 + 1, dot2 - dot1 - 1)));
  EXPECT_EQ(claims["iss"], "sa@p.iam.gserviceaccount.com");
  EXPECT_EQ(claims["aud"], "http://127.0.0.1/token");
  EXPECT_EQ(claims["scope"], "scope-x");
  EXPECT_EQ(claims["exp"].get<int64_t>() - claims["iat"].get<int64_t>(), 3600);

  const std::string signed_part = jwt->substr(0, dot2);
  const std::string signature = Base64UrlDecode(jwt->substr(dot2 + 1));
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  ASSERT_EQ(EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()), 1);
  EXPECT_EQ(
      EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                       signature.size(), reinterpret_cast<const unsigned char*>(signed_part.data()),
                       signed_part.size()),
      1);

  EXPECT_EQ(ServiceAccountJwt("a", "not a key", "u", "s", 0).status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace somlier

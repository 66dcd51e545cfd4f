// The S3 endpoint with keys on: Bearer keys, SigV4 (header-signed, presigned, aws-chunked)
// against a real KeyStore, grants, tenants' plain bucket names and public-read buckets.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <mutex>

#include "auth/testing/sigv4_sign.h"
#include "common/ids.h"
#include "http/client.h"
#include "http/server.h"
#include "storage/s3_service.h"

namespace kumo::storage {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kNowUs = 1'800'000'000'000'000;  // 2027-01-15T08:00:00Z
constexpr std::string_view kEmptySha =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";  // of ""

class BucketsSeen final : public events::EventSink {
 public:
  Result<std::string> publish(const std::string&, events::Message) override { return "id"; }
  Result<int> object_changed(const events::ObjectEvent& event) override {
    std::lock_guard lock(mu);
    buckets.push_back(event.bucket);
    return 1;
  }
  Result<int> table_changed(const events::TableChange&) override { return 0; }
  std::mutex mu;
  std::vector<std::string> buckets;  // Guarded by mu.
};

struct Key {
  std::string id;
  std::string secret;
  std::string token;
};

std::string code_of(const http::ClientResponse& r) {
  size_t at = r.body.find("<Code>");
  if (at == std::string::npos) return "(no code) " + r.body;
  return r.body.substr(at + 6, r.body.find("</Code>") - at - 6);
}

class S3AuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("kumo_s3_auth_" + new_short_id());
    fs::create_directories(dir_);
    keys_ = std::move(
        auth::KeyStore::open((dir_ / "kumo.db").string(), auth::SealingKey::generate()).value());
    access_ = std::make_unique<auth::Access>(keys_.get(), [] { return kNowUs; });
    auto store = ObjectStore::open({dir_.string()});
    ASSERT_TRUE(store);
    service_ = std::make_shared<S3Service>(std::move(*store), sink_, StorageOptions{});
    http::Router router;
    add_storage_routes(router, service_, *access_);
    server_ =
        std::make_unique<http::Server>(http::ServerOptions{"127.0.0.1", 0, 2}, std::move(router));
    ASSERT_TRUE(server_->start());
    client_ = std::make_unique<http::Client>(http::Endpoint{"127.0.0.1", server_->port()});
    admin_ = key("admin");
  }
  void TearDown() override {
    server_->stop();
    service_->stop();
    fs::remove_all(dir_);
  }

  Key key(const std::string& scopes, const std::string& tenant = "") {
    auto made = keys_->create(
        auth::KeySpec{"test", tenant, auth::parse_grants(scopes).value(), std::nullopt}, kNowUs);
    EXPECT_TRUE(made) << made.error().message;
    auto parts = auth::parse_token(made->token).value();
    return Key{parts.id, parts.secret, made->token};
  }

  http::ClientResponse call(std::string_view method, std::string_view target,
                            std::string_view body = {}, http::Headers headers = {}) {
    auto r = client_->request(method, target, body, headers);
    EXPECT_TRUE(r);
    return r.value_or(http::ClientResponse{});
  }
  http::ClientResponse bearer(const Key& k, std::string_view method, std::string_view target,
                              std::string_view body = {}) {
    return call(method, target, body, {{"Authorization", "Bearer " + k.token}});
  }

  std::string host() const { return "127.0.0.1:" + std::to_string(server_->port()); }
  static auth::testing::S3Signer signer(const Key& k) { return {k.id, k.secret}; }

  // The headers of a SigV4 header-signed request, as botocore would sign it.
  http::Headers sign(const Key& k, std::string_view method, std::string_view path,
                     std::string_view query, std::string payload_hash, http::Headers extra = {}) {
    auto signed_req =
        auth::testing::sign_s3(signer(k), method, host(), path, query, payload_hash, extra);
    last_signature_ = signed_req.signature;
    return signed_req.headers;
  }
  std::string chunked_body(const Key& k, const std::vector<std::string>& chunks) {
    return auth::testing::aws_chunked_body(signer(k), last_signature_, chunks);
  }

  fs::path dir_;
  BucketsSeen sink_;
  std::unique_ptr<auth::KeyStore> keys_;
  std::unique_ptr<auth::Access> access_;
  std::shared_ptr<S3Service> service_;
  std::unique_ptr<http::Server> server_;
  std::unique_ptr<http::Client> client_;
  Key admin_;
  std::string last_signature_;
};

TEST_F(S3AuthTest, ARequestWithoutACredentialIsAccessDenied) {
  auto r = call("PUT", "/s3/open");
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(code_of(r), "AccessDenied");
  EXPECT_EQ(code_of(call("GET", "/s3")), "AccessDenied");
  auto wrong = call("GET", "/s3", {}, {{"Authorization", "Bearer kumo_wrong"}});
  EXPECT_EQ(code_of(wrong), "AccessDenied");
  EXPECT_EQ(bearer(admin_, "PUT", "/s3/open").status, 200);
}

TEST_F(S3AuthTest, AHeaderSignedRequestIsVerifiedAgainstTheKeysSecret) {
  ASSERT_EQ(bearer(admin_, "PUT", "/s3/signed").status, 200);
  std::string body = "hello";
  auto put = call("PUT", "/s3/signed/k", body,
                  sign(admin_, "PUT", "/s3/signed/k", "", auth::testing::sha256_hex(body)));
  EXPECT_EQ(put.status, 200) << put.body;
  auto get_signed = [&](const Key& k) {
    return call("GET", "/s3/signed/k", {},
                sign(k, "GET", "/s3/signed/k", "", std::string(kEmptySha)));
  };
  EXPECT_EQ(get_signed(admin_).body, "hello");

  Key wrong = admin_;
  wrong.secret[0] = wrong.secret[0] == 'a' ? 'b' : 'a';
  auto bad = get_signed(wrong);
  EXPECT_EQ(bad.status, 403);
  EXPECT_EQ(code_of(bad), "SignatureDoesNotMatch");
  Key unknown{"kk_0000000000000000", admin_.secret, ""};
  auto who = get_signed(unknown);
  EXPECT_EQ(code_of(who), "InvalidAccessKeyId");
  // The body must be the one whose hash was signed.
  auto swapped = call("PUT", "/s3/signed/k", "other",
                      sign(admin_, "PUT", "/s3/signed/k", "", auth::testing::sha256_hex(body)));
  EXPECT_EQ(code_of(swapped), "XAmzContentSHA256Mismatch");
  EXPECT_EQ(get_signed(admin_).body, "hello");
}

TEST_F(S3AuthTest, SignedChunksAreVerifiedAndATamperedOneStoresNothing) {
  ASSERT_EQ(bearer(admin_, "PUT", "/s3/chunks").status, 200);
  auto headers = [&](size_t decoded) {
    return sign(admin_, "PUT", "/s3/chunks/k", "", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
                {{"content-encoding", "aws-chunked"},
                 {"x-amz-decoded-content-length", std::to_string(decoded)}});
  };
  auto h = headers(11);
  std::string body = chunked_body(admin_, {"hello ", "world"});
  auto put = call("PUT", "/s3/chunks/k", body, h);
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(bearer(admin_, "GET", "/s3/chunks/k").body, "hello world");

  h = headers(11);
  std::string tampered = chunked_body(admin_, {"hello ", "world"});
  tampered[tampered.find("world")] = 'W';
  auto refused = call("PUT", "/s3/chunks/t", tampered, h);
  EXPECT_EQ(refused.status, 403);
  EXPECT_EQ(code_of(refused), "SignatureDoesNotMatch");
  EXPECT_EQ(code_of(bearer(admin_, "GET", "/s3/chunks/t")), "NoSuchKey");
  EXPECT_EQ(bearer(admin_, "GET", "/s3?list-type=2").status, 200);
}

TEST_F(S3AuthTest, AKeyReadsAndWritesOnlyTheBucketsItsGrantsName) {
  for (auto b : {"/s3/alpha", "/s3/beta"}) ASSERT_EQ(bearer(admin_, "PUT", b).status, 200);
  ASSERT_EQ(bearer(admin_, "PUT", "/s3/alpha/x", "in a").status, 200);
  ASSERT_EQ(bearer(admin_, "PUT", "/s3/beta/x", "in b").status, 200);
  Key reader = key("read:bucket/alpha");
  EXPECT_EQ(bearer(reader, "GET", "/s3/alpha/x").body, "in a");
  EXPECT_EQ(bearer(reader, "GET", "/s3/alpha?list-type=2").status, 200);
  EXPECT_EQ(code_of(bearer(reader, "PUT", "/s3/alpha/y", "no")), "AccessDenied");
  EXPECT_EQ(code_of(bearer(reader, "DELETE", "/s3/alpha/x")), "AccessDenied");
  EXPECT_EQ(code_of(bearer(reader, "GET", "/s3/beta/x")), "AccessDenied");
  // A copy reads its source: beta is not readable, so not copyable into a writable bucket.
  Key writer = key("write:bucket/alpha");
  auto copy = call("PUT", "/s3/alpha/copy", {},
                   {{"Authorization", "Bearer " + writer.token}, {"x-amz-copy-source", "/beta/x"}});
  EXPECT_EQ(code_of(copy), "AccessDenied");
  auto allowed =
      call("PUT", "/s3/alpha/copy", {},
           {{"Authorization", "Bearer " + writer.token}, {"x-amz-copy-source", "/alpha/x"}});
  EXPECT_EQ(allowed.status, 200) << allowed.body;
  auto list = bearer(reader, "GET", "/s3");
  EXPECT_NE(list.body.find("<Name>alpha</Name>"), std::string::npos) << list.body;
  EXPECT_EQ(list.body.find("<Name>beta</Name>"), std::string::npos) << list.body;
}

TEST_F(S3AuthTest, TwoTenantsEachHaveTheirOwnBucketOfTheSameNameUnderItsPlainName) {
  Key acme = key("write", "acme");
  Key globex = key("write", "globex");
  ASSERT_EQ(bearer(acme, "PUT", "/s3/photos").status, 200);
  ASSERT_EQ(bearer(globex, "PUT", "/s3/photos").status, 200);
  ASSERT_EQ(bearer(acme, "PUT", "/s3/photos/cat.jpg", "acme's cat").status, 200);
  EXPECT_EQ(bearer(acme, "GET", "/s3/photos/cat.jpg").body, "acme's cat");
  auto other = bearer(globex, "GET", "/s3/photos/cat.jpg");
  EXPECT_EQ(code_of(other), "NoSuchKey");
  EXPECT_EQ(other.body.find("acme"), std::string::npos) << other.body;
  EXPECT_EQ(other.body.find("globex"), std::string::npos) << other.body;
  EXPECT_NE(other.body.find("<Resource>/photos/cat.jpg</Resource>"), std::string::npos);
  auto copy =
      call("PUT", "/s3/photos/copy", {},
           {{"Authorization", "Bearer " + globex.token}, {"x-amz-copy-source", "/photos/cat.jpg"}});
  EXPECT_EQ(code_of(copy), "NoSuchKey");
  EXPECT_EQ(copy.body.find("globex"), std::string::npos) << copy.body;

  auto buckets = bearer(acme, "GET", "/s3");
  EXPECT_NE(buckets.body.find("<Name>photos</Name>"), std::string::npos) << buckets.body;
  EXPECT_EQ(buckets.body.find("~"), std::string::npos) << buckets.body;
  auto listing = bearer(acme, "GET", "/s3/photos?list-type=2");
  EXPECT_NE(listing.body.find("<Name>photos</Name>"), std::string::npos);
  // A tenant's key cannot spell another tenant's name; the operator sees names as kept.
  EXPECT_EQ(code_of(bearer(acme, "GET", "/s3/globex~photos/cat.jpg")), "AccessDenied");
  EXPECT_EQ(code_of(bearer(acme, "PUT", "/s3/a~b")), "AccessDenied");
  EXPECT_EQ(bearer(admin_, "GET", "/s3/acme~photos/cat.jpg").body, "acme's cat");
  auto all = bearer(admin_, "GET", "/s3");
  EXPECT_NE(all.body.find("<Name>acme~photos</Name>"), std::string::npos) << all.body;
  // Events carry the bucket as kept, so triggers match it.
  std::lock_guard lock(sink_.mu);
  EXPECT_EQ(sink_.buckets, std::vector<std::string>{"acme~photos"});
}

TEST_F(S3AuthTest, AnyoneMayGetObjectsOfAPublicReadBucketAndNothingElse) {
  Key acme = key("write", "acme");
  auto made = call("PUT", "/s3/pics", {},
                   {{"Authorization", "Bearer " + acme.token}, {"x-amz-acl", "public-read"}});
  ASSERT_EQ(made.status, 200) << made.body;
  ASSERT_EQ(bearer(acme, "PUT", "/s3/pics/a.txt", "public").status, 200);
  ASSERT_EQ(bearer(acme, "PUT", "/s3/private").status, 200);
  ASSERT_EQ(bearer(acme, "PUT", "/s3/private/a.txt", "secret").status, 200);

  // Anonymous requests name a tenant's bucket by its full name.
  EXPECT_EQ(call("GET", "/s3/acme~pics/a.txt").body, "public");
  EXPECT_EQ(call("HEAD", "/s3/acme~pics/a.txt").status, 200);
  EXPECT_EQ(code_of(call("GET", "/s3/acme~pics?list-type=2")), "AccessDenied");
  EXPECT_EQ(code_of(call("PUT", "/s3/acme~pics/b.txt", "x")), "AccessDenied");
  EXPECT_EQ(code_of(call("DELETE", "/s3/acme~pics/a.txt")), "AccessDenied");
  EXPECT_EQ(code_of(call("GET", "/s3/acme~private/a.txt")), "AccessDenied");
  EXPECT_EQ(code_of(call("GET", "/s3/acme~nothing/a.txt")), "AccessDenied");

  auto acl = bearer(acme, "GET", "/s3/pics?acl");
  EXPECT_NE(acl.body.find("AllUsers"), std::string::npos) << acl.body;
  auto closed = call("PUT", "/s3/pics?acl", {},
                     {{"Authorization", "Bearer " + acme.token}, {"x-amz-acl", "private"}});
  ASSERT_EQ(closed.status, 200) << closed.body;
  EXPECT_EQ(code_of(call("GET", "/s3/acme~pics/a.txt")), "AccessDenied");
  EXPECT_EQ(bearer(acme, "GET", "/s3/pics?acl").body.find("AllUsers"), std::string::npos);
  auto wide = call("PUT", "/s3/pics?acl", {},
                   {{"Authorization", "Bearer " + acme.token}, {"x-amz-acl", "public-read-write"}});
  EXPECT_EQ(code_of(wide), "NotImplemented");
}

TEST_F(S3AuthTest, AFunctionInstancesEphemeralKeySignsUntilItIsDropped) {
  ASSERT_EQ(bearer(admin_, "PUT", "/s3/fn-data").status, 200);
  auto made = keys_->create_ephemeral(
      auth::KeySpec{"instance", "", auth::parse_grants("write:bucket/fn-data").value(), {}},
      kNowUs);
  ASSERT_TRUE(made);
  auto parts = auth::parse_token(made->token).value();
  Key instance{parts.id, parts.secret, made->token};
  auto put = [&] {
    return call("PUT", "/s3/fn-data/out", "x",
                sign(instance, "PUT", "/s3/fn-data/out", "", auth::testing::sha256_hex("x"),
                     {{"x-amz-security-token", "session"}}));
  };
  EXPECT_EQ(put().status, 200);
  keys_->drop_ephemeral(instance.id);
  EXPECT_EQ(code_of(put()), "InvalidAccessKeyId");
}

TEST_F(S3AuthTest, ARequestSignedFarFromTheServersTimeIsRefused) {
  auth::testing::S3Signer late{admin_.id, admin_.secret, "20270115T083100Z"};  // 31 min on
  auto h = auth::testing::sign_s3(late, "GET", host(), "/s3", "", std::string(kEmptySha)).headers;
  EXPECT_EQ(code_of(call("GET", "/s3", {}, h)), "RequestTimeTooSkewed");
  auth::testing::S3Signer now{admin_.id, admin_.secret};
  h = auth::testing::sign_s3(now, "GET", host(), "/s3", "", std::string(kEmptySha)).headers;
  EXPECT_EQ(call("GET", "/s3", {}, h).status, 200);
}

}  // namespace
}  // namespace kumo::storage

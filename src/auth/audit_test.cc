#include "auth/audit.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "common/ids.h"

namespace kumo::auth {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kNow = 1'800'000'000'000'000;

// Keeps what a route answered.
class CapturingResponder final : public http::Responder {
 public:
  void send(http::Response response) override { sent = std::move(response); }
  void start_stream(int, http::Headers) override {}
  void write_chunk(std::string) override {}
  void finish() override {}
  bool closed() const override { return false; }
  http::Response sent;
};

class AuditTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("kumo-audit-" + new_short_id());
    fs::create_directories(dir_);
    log_ = open_log();
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<AuditLog> open_log(int64_t max_rows = AuditLog::kMaxRows) {
    auto log =
        AuditLog::open((dir_ / "kumo.db").string(), [this] { return now_.load(); }, max_rows);
    EXPECT_TRUE(log) << log.error().message;
    return std::move(*log);
  }

  std::vector<AuditRecord> read_all(std::optional<std::string> tenant = std::nullopt) {
    auto records = log_->read({0, AuditLog::kMaxLimit, std::move(tenant)});
    EXPECT_TRUE(records) << records.error().message;
    return records.value_or(std::vector<AuditRecord>{});
  }

  fs::path dir_;
  std::atomic<int64_t> now_{kNow};
  std::unique_ptr<AuditLog> log_;
};

TEST_F(AuditTest, ARecordSaysWhoDidWhatToWhatWhenFromWhereAndHowItEnded) {
  log_->record(Caller{"kk_abc", "acme", {}}, "function.deploy", "resize", "10.0.0.7", 201);
  auto records = read_all();
  ASSERT_EQ(records.size(), 1u);
  const AuditRecord& r = records[0];
  EXPECT_EQ(r.time_us, kNow);
  EXPECT_EQ(r.key_id, "kk_abc");
  EXPECT_EQ(r.tenant, "acme");
  EXPECT_EQ(r.action, "function.deploy");
  EXPECT_EQ(r.target, "resize");
  EXPECT_EQ(r.remote, "10.0.0.7");
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.detail, "");
}

TEST_F(AuditTest, WithAuthenticationOffTheCallerIsAnonymous) {
  log_->record(Caller{}, "table.create", "orders", "127.0.0.1", 201);
  EXPECT_EQ(read_all().at(0).key_id, "anonymous");
}

TEST_F(AuditTest, RecordsOutliveTheConnection) {
  log_->record(Caller{"kk_a", "", {}}, "key.create", "kk_b", "127.0.0.1", 201);
  log_ = open_log();
  EXPECT_EQ(read_all().size(), 1u);
}

TEST_F(AuditTest, PastTheBoundTheOldestRecordsGo) {
  log_ = open_log(5);
  for (int i = 0; i < 12; ++i) {
    log_->record(Caller{"kk_a", "", {}}, "function.remove", "f" + std::to_string(i), "::1", 200);
  }
  auto records = read_all();
  ASSERT_EQ(records.size(), 5u);
  EXPECT_EQ(records.front().target, "f7");
  EXPECT_EQ(records.back().target, "f11");
}

TEST_F(AuditTest, AReadGivesTheNewestRecordsSinceATimeOldestFirst) {
  for (int i = 0; i < 6; ++i) {
    now_ = kNow + i * 1'000'000;
    log_->record(Caller{"kk_a", "", {}}, "bucket.create", "b" + std::to_string(i), "::1", 200);
  }
  auto since = log_->read({kNow + 2'000'000, 100, std::nullopt});
  ASSERT_TRUE(since);
  ASSERT_EQ(since->size(), 4u);
  EXPECT_EQ(since->front().target, "b2");
  auto newest = log_->read({0, 2, std::nullopt});
  ASSERT_TRUE(newest);
  ASSERT_EQ(newest->size(), 2u);
  EXPECT_EQ(newest->at(0).target, "b4");
  EXPECT_EQ(newest->at(1).target, "b5");
  EXPECT_LT(newest->at(0).seq, newest->at(1).seq);
}

TEST_F(AuditTest, AReadCanKeepToOneTenant) {
  log_->record(Caller{"kk_a", "acme", {}}, "table.create", "t", "::1", 201);
  log_->record(Caller{"kk_b", "zeta", {}}, "table.create", "t", "::1", 201);
  log_->record(Caller{"kk_c", "", {}}, "table.delete", "t", "::1", 200);
  auto acme = read_all("acme");
  ASSERT_EQ(acme.size(), 1u);
  EXPECT_EQ(acme[0].key_id, "kk_a");
  EXPECT_EQ(read_all().size(), 3u);
}

TEST_F(AuditTest, ALimitOutsideItsRangeIsRefused) {
  EXPECT_EQ(log_->read({0, 0, std::nullopt}).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(log_->read({0, AuditLog::kMaxLimit + 1, std::nullopt}).error().code,
            ErrorCode::kInvalidArgument);
}

TEST_F(AuditTest, HostileTextIsCutAndMadePrintable) {
  std::string huge(100'000, 'x');
  log_->record(Caller{"kk_a", "", {}}, "function.deploy", std::string("a\xff\n\0b", 5) + huge,
               "::1", 400, huge);
  auto r = read_all().at(0);
  EXPECT_EQ(r.target.substr(0, 5), "a???b");
  EXPECT_LE(r.target.size(), 256u);
  EXPECT_LE(r.detail.size(), 512u);
}

TEST_F(AuditTest, RecordsFromManyThreadsAreAllKept) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([this, t] {
      for (int i = 0; i < 50; ++i) {
        log_->record(Caller{"kk_" + std::to_string(t), "", {}}, "key.create", "x", "::1", 201);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(read_all().size(), 200u);
}

class AdmitChangeTest : public AuditTest {
 protected:
  void SetUp() override {
    AuditTest::SetUp();
    keys_ = std::move(KeyStore::open((dir_ / "kumo.db").string()).value());
  }
  std::string token(const std::string& scopes) {
    return keys_->create(KeySpec{"k", "", parse_grants(scopes).value(), {}}, kNow).value().token;
  }
  http::Request request(const std::string& authorization) {
    http::Request req;
    if (!authorization.empty()) req.headers.emplace_back("Authorization", authorization);
    req.remote_address = "192.0.2.9";
    return req;
  }
  std::unique_ptr<KeyStore> keys_;
};

TEST_F(AdmitChangeTest, AMissingOrWrongKeyIsRefusedAndRecordedWithTheKeyItClaims) {
  Access access(keys_.get(), [] { return kNow; });
  CapturingResponder out;
  EXPECT_FALSE(admit_change(access, log_.get(), request(""), Action::kDeploy,
                            Resource::function("f"), "function.remove", out));
  EXPECT_EQ(out.sent.status, 401);
  std::string wrong = token("admin");
  wrong.back() = wrong.back() == 'a' ? 'b' : 'a';
  EXPECT_FALSE(admit_change(access, log_.get(), request("Bearer " + wrong), Action::kDeploy,
                            Resource::function("f"), "function.remove", out));
  auto records = read_all();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].key_id, "anonymous");
  EXPECT_EQ(records[0].status, 401);
  EXPECT_EQ(records[0].remote, "192.0.2.9");
  EXPECT_EQ(records[1].key_id, parse_token(wrong)->id);
  EXPECT_EQ(records[1].target, "f");
  EXPECT_TRUE(records[1].detail.starts_with("unknown key")) << records[1].detail;
}

TEST_F(AdmitChangeTest, AKeyWithoutTheScopeIsRefusedAndRecorded) {
  Access access(keys_.get(), [] { return kNow; });
  std::string key = token("invoke");
  auto id = parse_token(key)->id;
  CapturingResponder out;
  EXPECT_FALSE(admit_change(access, log_.get(), request("Bearer " + key), Action::kDeploy,
                            Resource::function("f"), "function.remove", out));
  EXPECT_EQ(out.sent.status, 403);
  auto records = read_all();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].key_id, id);
  EXPECT_EQ(records[0].status, 403);
  EXPECT_NE(records[0].detail.find("may not deploy function 'f'"), std::string::npos);
}

TEST_F(AdmitChangeTest, AnAdmittedCallIsLeftToTheRouteToRecord) {
  Access access(keys_.get(), [] { return kNow; });
  CapturingResponder out;
  auto caller = admit_change(access, log_.get(), request("Bearer " + token("deploy")),
                             Action::kDeploy, Resource::function("f"), "function.remove", out);
  ASSERT_TRUE(caller);
  EXPECT_TRUE(read_all().empty());
}

TEST_F(AdmitChangeTest, ARequestSignedElsewhereIsFromTheKeyItsCredentialNames) {
  Access access(keys_.get(), [] { return kNow; });
  auto made = keys_->create(KeySpec{"s3", "acme", parse_grants("write").value(), {}}, kNow);
  ASSERT_TRUE(made);
  const std::string& id = made->record.id;
  http::Request header = request("AWS4-HMAC-SHA256 Credential=" + id +
                                 "/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, "
                                 "Signature=00");
  http::Request presigned = request("");
  presigned.query = "X-Amz-Credential=" + id + "%2F20260101%2Fus-east-1%2Fs3%2Faws4_request";
  for (const http::Request& req : {header, presigned}) {
    Caller caller = claimed_caller(access, req);
    EXPECT_EQ(caller.key_id, id);
    EXPECT_EQ(caller.tenant, "acme");
    EXPECT_TRUE(caller.grants.empty()) << "a claim is no proof: it grants nothing";
  }
  EXPECT_EQ(claimed_caller(access, request("Bearer " + made->token)).grants,
            parse_grants("write").value());
  EXPECT_EQ(claimed_caller(access, request("")).who(), "anonymous");
  EXPECT_EQ(claimed_caller(access, request("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/x")).who(),
            "anonymous");
}

}  // namespace
}  // namespace kumo::auth

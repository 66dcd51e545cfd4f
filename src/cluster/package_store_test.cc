// PackageStore against a real nats-server with JetStream (file storage) on loopback.
#include "cluster/package_store.h"

#include <nats/nats.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "common/digest.h"
#include "common/testing/server_process.h"

namespace kumo::cluster {
namespace {

std::string random_bytes(size_t n) {
  std::mt19937_64 rng(42);
  std::string out(n, '\0');
  for (auto& c : out) c = static_cast<char>(rng());
  return out;
}

class PackageStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "kumo-js-XXXXXX").string();
    store_dir_ = mkdtemp(tmpl.data());
    start(kumo::testing::free_port());
    if (!nats_) GTEST_SKIP() << "nats-server is not installed";
    auto store = PackageStore::open({url()});
    ASSERT_TRUE(store) << store.error().message << nats_->log();
    store_ = std::move(*store);
  }
  void TearDown() override {
    store_.reset();
    nats_.reset();
    std::error_code ec;
    std::filesystem::remove_all(store_dir_, ec);
  }
  // (Re)starts nats-server on `port` over the test's storage folder.
  void start(int port) {
    nats_.reset();
    nats_ = kumo::testing::ServerProcess::start_on(
        port, "nats-server", {"-a", "127.0.0.1", "-p", "{port}", "-js", "-sd", store_dir_});
  }
  std::string url() const { return "nats://127.0.0.1:" + std::to_string(nats_->port()); }

  std::string store_dir_;
  std::unique_ptr<kumo::testing::ServerProcess> nats_;
  std::unique_ptr<PackageStore> store_;
};

TEST_F(PackageStoreTest, APackageComesBackWholeByItsHashOnAnotherConnection) {
  std::string package = random_bytes(3 * PackageStore::kChunkBytes + 12345);
  auto sha = store_->put(package);
  ASSERT_TRUE(sha) << sha.error().message;
  EXPECT_EQ(*sha, sha256_hex(package));
  auto other = PackageStore::open({url()});  // another node
  ASSERT_TRUE(other);
  auto got = (*other)->get(*sha);
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_TRUE(*got == package);
  EXPECT_EQ(*store_->put(package), *sha);  // again: nothing changes

  auto empty = store_->put("");
  ASSERT_TRUE(empty);
  EXPECT_EQ(*store_->get(*empty), "");
}

TEST_F(PackageStoreTest, AnUnknownOrMalformedNameIsRefused) {
  EXPECT_EQ(store_->get(std::string(64, 'a')).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(store_->get("../etc").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(store_->get(std::string(64, 'A')).error().code, ErrorCode::kInvalidArgument);
}

TEST_F(PackageStoreTest, ADamagedPackageIsNeverHandedOut) {
  std::string package = random_bytes(PackageStore::kChunkBytes + 10);
  auto sha = store_->put(package);
  ASSERT_TRUE(sha);
  // Someone with access to NATS replaces a chunk.
  natsConnection* conn = nullptr;
  ASSERT_EQ(natsConnection_ConnectTo(&conn, url().c_str()), NATS_OK);
  jsCtx* js = nullptr;
  ASSERT_EQ(natsConnection_JetStream(&js, conn, nullptr), NATS_OK);
  std::string subject = "kumo.packages." + *sha + ".1";
  ASSERT_EQ(js_Publish(nullptr, js, subject.c_str(), "evil", 4, nullptr, nullptr), NATS_OK);
  jsCtx_Destroy(js);
  natsConnection_Destroy(conn);
  auto got = store_->get(*sha);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, ErrorCode::kInternal);
  EXPECT_NE(got.error().message.find("does not hash"), std::string::npos);
}

TEST_F(PackageStoreTest, APackageOverTheLimitIsRefused) {
  auto small = PackageStore::open({url(), "KUMO_PACKAGES", 1, 1000});
  ASSERT_TRUE(small);
  EXPECT_EQ((*small)->put(std::string(1001, 'x')).error().code, ErrorCode::kTooLarge);
}

TEST_F(PackageStoreTest, PackagesSurviveARestartOfNats) {
  std::string package = random_bytes(PackageStore::kChunkBytes * 2);
  auto sha = store_->put(package);
  ASSERT_TRUE(sha);
  store_.reset();
  int port = nats_->port();
  start(port);  // killed and started again on the same storage folder
  auto reopened = PackageStore::open({url()});
  ASSERT_TRUE(reopened) << reopened.error().message;
  auto got = (*reopened)->get(*sha);
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_TRUE(*got == package);
}

TEST(PackageStoreOpen, NatsThatIsDownIsUnavailable) {
  auto store = PackageStore::open(
      {"nats://127.0.0.1:" + std::to_string(kumo::testing::free_port())});
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, ErrorCode::kUnavailable);
}

}  // namespace
}  // namespace kumo::cluster

// The S3 routes on a real http::Server driven by the real http::Client, with a recording
// EventSink standing in for the events part.
#include "storage/s3_service.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <mutex>

#include "common/ids.h"
#include "http/client.h"
#include "http/server.h"

namespace kumo::storage {
namespace {

namespace fs = std::filesystem;

// Sends raw bytes and reads until the server closes.
std::string raw_exchange(int port, const std::string& bytes) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  EXPECT_EQ(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(bytes.size()));
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) {
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

class RecordingSink final : public events::EventSink {
 public:
  Result<std::string> publish(const std::string&, events::Message) override { return "id"; }
  Result<int> object_changed(const events::ObjectEvent& event) override {
    std::lock_guard lock(mu);
    events.push_back(event);
    if (fail) return make_error(ErrorCode::kUnavailable, "the events part is down");
    return 1;
  }
  Result<int> table_changed(const events::TableChange&) override { return 0; }
  std::vector<events::ObjectEvent> taken() {
    std::lock_guard lock(mu);
    return events;
  }

  std::mutex mu;
  std::vector<events::ObjectEvent> events;  // Guarded by mu.
  bool fail = false;
};

class S3ServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (fs::temp_directory_path() / ("kumo_s3_test_" + new_short_id())).string();
    auto store = ObjectStore::open({dir_});
    ASSERT_TRUE(store.has_value());
    StorageOptions options;
    options.max_object_bytes = 1024;
    service_ = std::make_shared<S3Service>(std::move(*store), sink_, options);
    http::Router router;
    add_storage_routes(router, service_, access_);
    server_ =
        std::make_unique<http::Server>(http::ServerOptions{"127.0.0.1", 0, 2}, std::move(router));
    ASSERT_TRUE(server_->start().has_value());
    client_ = std::make_unique<http::Client>(http::Endpoint{"127.0.0.1", server_->port()});
    EXPECT_EQ(call("PUT", "/s3/photos").status, 200);
  }
  void TearDown() override {
    server_->stop();
    service_->stop();
    fs::remove_all(dir_);
  }
  http::ClientResponse call(std::string_view method, std::string_view target,
                            std::string_view body = {}, const http::Headers& headers = {}) {
    auto r = client_->request(method, target, body, headers);
    EXPECT_TRUE(r.has_value());
    return r.value_or(http::ClientResponse{});
  }

  std::string dir_;
  RecordingSink sink_;
  auth::Access access_{nullptr};  // authentication off: S3 itself is tested here
  std::shared_ptr<S3Service> service_;
  std::unique_ptr<http::Server> server_;
  std::unique_ptr<http::Client> client_;
};

TEST_F(S3ServiceTest, PutEmitsAnS3EventRecord) {
  auto put = call("PUT", "/s3/photos/cats/my%20cat.jpg?x-id=PutObject", "meow",
                  {{"Content-Type", "image/jpeg"}});
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(put.header("ETag"), "\"" + digest_of("meow").md5_hex + "\"");
  auto events = sink_.taken();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, events::ObjectEvent::Kind::kCreated);
  EXPECT_EQ(events[0].bucket, "photos");
  EXPECT_EQ(events[0].key, "cats/my cat.jpg");
  const auto& r = events[0].record;
  EXPECT_EQ(r["eventSource"], "aws:s3");
  EXPECT_EQ(r["eventName"], "ObjectCreated:Put");
  EXPECT_EQ(r["s3"]["bucket"]["arn"], "arn:aws:s3:::photos");
  EXPECT_EQ(r["s3"]["object"]["key"], "cats/my+cat.jpg");
  EXPECT_EQ(r["s3"]["object"]["size"], 4);
  EXPECT_EQ(r["s3"]["object"]["eTag"], digest_of("meow").md5_hex);
  EXPECT_EQ(r["requestParameters"]["sourceIPAddress"], "127.0.0.1");
  EXPECT_EQ(r["eventTime"].get<std::string>().size(), 24u);  // 2024-05-01T12:34:56.789Z
}

TEST_F(S3ServiceTest, DeleteEmitsOnlyForAnObjectThatExisted) {
  ASSERT_EQ(call("PUT", "/s3/photos/a", "x").status, 200);
  EXPECT_EQ(call("DELETE", "/s3/photos/a").status, 204);
  EXPECT_EQ(call("DELETE", "/s3/photos/a").status, 204);
  auto events = sink_.taken();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].kind, events::ObjectEvent::Kind::kRemoved);
  EXPECT_EQ(events[1].record["eventName"], "ObjectRemoved:Delete");
  EXPECT_FALSE(events[1].record["s3"]["object"].contains("size"));
  EXPECT_LT(events[0].record["s3"]["object"]["sequencer"].get<std::string>(),
            events[1].record["s3"]["object"]["sequencer"].get<std::string>());
}

TEST_F(S3ServiceTest, ObjectIsKeptWhenTheSinkFails) {
  sink_.fail = true;
  EXPECT_EQ(call("PUT", "/s3/photos/a", "kept").status, 200);
  EXPECT_EQ(call("GET", "/s3/photos/a").body, "kept");
}

TEST_F(S3ServiceTest, ErrorsAreS3XmlOrJsonOnRequest) {
  auto missing = call("GET", "/s3/nope/k");
  EXPECT_EQ(missing.status, 404);
  EXPECT_NE(missing.body.find("<Code>NoSuchBucket</Code>"), std::string::npos);
  EXPECT_EQ(call("GET", "/s3/photos/k").status, 404);
  EXPECT_EQ(call("PUT", "/s3/photos").status, 409);
  auto json = call("GET", "/s3/photos/k", {}, {{"Accept", "application/json"}});
  EXPECT_EQ(json.status, 404);
  EXPECT_NE(json.body.find("\"type\":\"NoSuchKey\""), std::string::npos);
  auto big = call("PUT", "/s3/photos/big", std::string(2000, 'x'));
  EXPECT_EQ(big.status, 400);
  EXPECT_NE(big.body.find("EntityTooLarge"), std::string::npos);
  EXPECT_EQ(call("GET", "/s3/photos?tagging").status, 501);
  auto bad_xml = call("POST", "/s3/photos/k?uploadId=x", "<oops");
  EXPECT_NE(bad_xml.body.find("MalformedXML"), std::string::npos);
}

TEST_F(S3ServiceTest, DecodesAwsChunkedBodiesAndVerifiesTheirChecksum) {
  http::Headers chunked{{"Content-Encoding", "aws-chunked"},
                        {"x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"},
                        {"x-amz-decoded-content-length", "11"}};
  std::string body = "b\r\nhello world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n";
  ASSERT_EQ(call("PUT", "/s3/photos/c", body, chunked).status, 200);
  auto get = call("GET", "/s3/photos/c", {}, {{"x-amz-checksum-mode", "ENABLED"}});
  EXPECT_EQ(get.body, "hello world");
  EXPECT_EQ(get.header("x-amz-checksum-crc32"), "DUoRhQ==");
  EXPECT_EQ(get.header("Content-Encoding"), "");

  std::string wrong = "b\r\nhello world\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n";
  auto bad = call("PUT", "/s3/photos/c", wrong, chunked);
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("BadDigest"), std::string::npos);
  auto bad_md5 = call("PUT", "/s3/photos/d", "x", {{"Content-MD5", "AAAAAAAAAAAAAAAAAAAAAA=="}});
  EXPECT_NE(bad_md5.body.find("BadDigest"), std::string::npos);
  EXPECT_EQ(call("GET", "/s3/photos/c").body, "hello world");  // the bad write changed nothing
}

TEST_F(S3ServiceTest, AnswersRangesAndHead) {
  ASSERT_EQ(call("PUT", "/s3/photos/r", "0123456789").status, 200);
  auto part = call("GET", "/s3/photos/r", {}, {{"Range", "bytes=2-4"}});
  EXPECT_EQ(part.status, 206);
  EXPECT_EQ(part.body, "234");
  EXPECT_EQ(part.header("Content-Range"), "bytes 2-4/10");
  EXPECT_EQ(call("GET", "/s3/photos/r", {}, {{"Range", "bytes=-3"}}).body, "789");
  EXPECT_EQ(call("GET", "/s3/photos/r", {}, {{"Range", "bytes=10-"}}).status, 416);
  // http::Client does not do HEAD; speak it by hand.
  std::string head = raw_exchange(
      server_->port(), "HEAD /s3/photos/r HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(head.starts_with("HTTP/1.1 200")) << head;
  EXPECT_NE(head.find("Content-Length: 10\r\n"), std::string::npos) << head;
  EXPECT_TRUE(head.ends_with("\r\n\r\n")) << head;  // no body
}

TEST_F(S3ServiceTest, ListsObjectsV2WithPages) {
  for (const char* k : {"a/1", "a/2", "b"})
    ASSERT_EQ(call("PUT", std::string("/s3/photos/") + k, "x").status, 200);
  auto page = call("GET", "/s3/photos?list-type=2&delimiter=%2F&max-keys=1");
  EXPECT_NE(page.body.find("<CommonPrefixes><Prefix>a/</Prefix></CommonPrefixes>"),
            std::string::npos);
  EXPECT_NE(page.body.find("<IsTruncated>true</IsTruncated>"), std::string::npos);
  size_t at = page.body.find("<NextContinuationToken>") + 23;
  std::string token = page.body.substr(at, page.body.find('<', at) - at);
  auto next = call(
      "GET", "/s3/photos?list-type=2&delimiter=%2F&continuation-token=" + http::url_encode(token));
  EXPECT_NE(next.body.find("<Key>b</Key>"), std::string::npos);
  EXPECT_EQ(next.body.find("a/"), std::string::npos);
}

TEST_F(S3ServiceTest, PostedNotificationsBecomeObjectEvents) {
  std::string minio = R"({"EventName":"s3:ObjectCreated:Put","Key":"ext/a b.txt","Records":[
    {"eventName":"s3:ObjectCreated:Put","s3":{"bucket":{"name":"ext"},"object":{"key":"a+b.txt","size":3}}},
    {"eventName":"s3:ObjectAccessed:Get","s3":{"bucket":{"name":"ext"},"object":{"key":"a"}}},
    {"eventName":"ObjectRemoved:Delete","s3":{"bucket":{"name":"ext"},"object":{"key":"dir%2Fc"}}}]})";
  auto r = call("POST", "/api/v1/storage/events", minio);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(nlohmann::json::parse(r.body)["accepted"], 2);
  auto events = sink_.taken();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].key, "a b.txt");
  EXPECT_EQ(events[0].record["s3"]["object"]["size"], 3);
  EXPECT_EQ(events[1].kind, events::ObjectEvent::Kind::kRemoved);
  EXPECT_EQ(events[1].key, "dir/c");

  EXPECT_EQ(call("POST", "/api/v1/storage/events", "not json").status, 400);
  EXPECT_EQ(
      call("POST", "/api/v1/storage/events", R"({"Records":[{"eventName":"ObjectCreated:Put"}]})")
          .status,
      400);
  sink_.fail = true;
  EXPECT_EQ(call("POST", "/api/v1/storage/events", minio).status, 503);
}

}  // namespace
}  // namespace kumo::storage

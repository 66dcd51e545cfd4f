// Backpressure of streamed replies: a real Server on port 0 and a raw socket client that
// stops reading, so the only thing under test is what the server holds for it.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "common/result.h"
#include "http/server.h"
#include "http/testing/raw_socket.h"

namespace kumo::http {
namespace {

using namespace std::chrono_literals;

int connect_to(int port) {
  // Keep the kernel's share small: the server's is under test.
  int fd = testing::connect_raw(port, std::chrono::seconds(60), 64 * 1024);
  EXPECT_TRUE(testing::send_all(fd, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n"));
  return fd;
}

// A producer that writes 64 KiB chunks on its own thread, as a function's output would come:
// when the responder asks it to wait it blocks until resumed, then goes on, until it wrote
// `give_up` bytes or the connection closed.
struct Producer {
  std::promise<size_t> written;       // bytes written when it was first asked to wait
  std::promise<void> resumed;         // the first resume callback ran
  std::atomic<size_t> total{0};       // bytes written so far
  std::promise<void> finished;        // its thread touches nothing of this any more
  std::shared_ptr<Responder> responder;
};

// What the resume callback (any thread) and the producer's thread share.
struct Wakeup {
  std::mutex mu;
  std::condition_variable cv;
  bool woken = false;  // Guarded by mu.
  bool first = true;   // Guarded by mu.
};

Router streaming_router(Producer& producer, size_t give_up) {
  Router router;
  router.add("GET", "/stream", [&producer, give_up](Request&&, std::shared_ptr<Responder> r) {
    producer.responder = r;
    r->start_stream(200, {{"Content-Type", "application/octet-stream"}});
    std::thread([&producer, r, give_up] {
      auto wake = std::make_shared<Wakeup>();
      auto resume = [&producer, wake] {
        std::lock_guard lock(wake->mu);
        if (wake->first) producer.resumed.set_value();
        wake->first = false;
        wake->woken = true;
        wake->cv.notify_all();
      };
      size_t written = 0;
      bool waited = false;
      while (written < give_up && !r->closed()) {
        if (r->wait_for_room(resume)) {
          if (!waited) producer.written.set_value(written);
          waited = true;
          std::unique_lock lock(wake->mu);
          wake->cv.wait(lock, [&] { return wake->woken; });
          wake->woken = false;
          continue;
        }
        r->write_chunk(std::string(64 * 1024, 'x'));
        written += 64 * 1024;
        producer.total = written;
      }
      if (!waited) producer.written.set_value(written);
      producer.finished.set_value();
    }).detach();
  });
  return router;
}

TEST(Stream, AProducerWaitsWhenTheClientDoesNotRead) {
  Producer producer;
  constexpr size_t kGiveUp = 512u * 1024 * 1024;
  Server server(ServerOptions{"127.0.0.1", 0, 1}, streaming_router(producer, kGiveUp));
  ASSERT_TRUE(server.start());
  int fd = connect_to(server.port());
  auto written = producer.written.get_future();
  ASSERT_EQ(written.wait_for(60s), std::future_status::ready);
  // The window plus what the kernel's socket buffers took, far below what it would write.
  EXPECT_LT(written.get(), 64u * 1024 * 1024);
  // The kernel may still take some of the window and so resume it, but while nobody reads
  // the producer stays held within those buffers.
  std::this_thread::sleep_for(300ms);
  EXPECT_LT(producer.total.load(), 64u * 1024 * 1024);
  size_t held = producer.total.load();
  timeval tv{0, 100 * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char buf[65536];
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (producer.total.load() < held + 8u * 1024 * 1024) {  // reading lets it go on
    ASSERT_LT(std::chrono::steady_clock::now(), deadline);
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    ASSERT_TRUE(n > 0 || (n < 0 && errno == EAGAIN));
  }
  EXPECT_EQ(producer.resumed.get_future().wait_for(0s), std::future_status::ready);
  ::close(fd);
  producer.responder.reset();
  EXPECT_EQ(producer.finished.get_future().wait_for(60s), std::future_status::ready);
}

TEST(Stream, AWaitingProducerIsResumedWhenTheClientLeaves) {
  Producer producer;
  Server server(ServerOptions{"127.0.0.1", 0, 1}, streaming_router(producer, 512u << 20));
  ASSERT_TRUE(server.start());
  int fd = connect_to(server.port());
  ASSERT_EQ(producer.written.get_future().wait_for(60s), std::future_status::ready);
  ::close(fd);  // unread data makes this a reset: the server's pending write fails
  auto resumed = producer.resumed.get_future();
  ASSERT_EQ(resumed.wait_for(60s), std::future_status::ready);
  EXPECT_TRUE(producer.responder->closed());
  EXPECT_FALSE(producer.responder->wait_for_room([] {}));  // a closed stream never waits
  producer.responder.reset();
  EXPECT_EQ(producer.finished.get_future().wait_for(60s), std::future_status::ready);
}

// Reads a streamed body on its own thread, as a storage worker would, and answers with
// what it saw: {"bytes", "largest_piece", "error"}.
Router upload_router(size_t limit) {
  Router router;
  router.add_streaming("PUT", "/up", [](Request&& req, std::shared_ptr<Responder> r) {
    std::thread([req = std::move(req), r] {
      size_t bytes = 0;
      size_t largest = 0;
      std::string error;
      if (req.body_reader) {
        while (true) {
          auto piece = req.body_reader->read();
          if (!piece) {
            error = error_code_name(piece.error().code);
            break;
          }
          if (piece->empty()) break;
          bytes += piece->size();
          largest = std::max(largest, piece->size());
        }
      } else {
        bytes = req.body.size();
      }
      nlohmann::json seen = {{"bytes", bytes}, {"largest_piece", largest}, {"error", error}};
      r->send(json_response(error.empty() ? 200 : 413, seen));
    }).detach();
  }, limit);
  return router;
}

// Sends a chunked PUT of `total` bytes (stopping quietly if the server closes) and returns
// what came back.
std::string chunked_put(int port, size_t total) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  std::string answer;
  std::thread reader([fd, &answer] {
    char buf[4096];
    for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) answer.append(buf, n);
  });
  std::string head = "PUT /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  bool ok = ::send(fd, head.data(), head.size(), MSG_NOSIGNAL) > 0;
  std::string chunk = "10000\r\n" + std::string(0x10000, 'b') + "\r\n";
  for (size_t sent = 0; ok && sent < total; sent += 0x10000) {
    ok = ::send(fd, chunk.data(), chunk.size(), MSG_NOSIGNAL) > 0;
  }
  if (ok) ::send(fd, "0\r\n\r\n", 5, MSG_NOSIGNAL);
  ::shutdown(fd, SHUT_WR);
  reader.join();
  ::close(fd);
  return answer;
}

TEST(StreamedBody, ArrivesInBoundedPiecesThatAddUpToTheBody) {
  Server server(ServerOptions{"127.0.0.1", 0, 1}, upload_router(64u << 20));
  ASSERT_TRUE(server.start());
  std::string answer = chunked_put(server.port(), 8u << 20);
  EXPECT_NE(answer.find("HTTP/1.1 200"), std::string::npos) << answer;
  EXPECT_NE(answer.find("\"bytes\":8388608"), std::string::npos) << answer;
  EXPECT_NE(answer.find("\"error\":\"\""), std::string::npos) << answer;
  auto at = answer.find("\"largest_piece\":");
  ASSERT_NE(at, std::string::npos);
  EXPECT_LE(std::stoul(answer.substr(at + 16)), kBodyPiece);
}

TEST(StreamedBody, StopsAtTheRouteLimitAndTheAnswerStillArrives) {
  Server server(ServerOptions{"127.0.0.1", 0, 1}, upload_router(1u << 20));
  ASSERT_TRUE(server.start());
  std::string answer = chunked_put(server.port(), 64u << 20);
  EXPECT_NE(answer.find("HTTP/1.1 413"), std::string::npos) << answer.substr(0, 300);
  EXPECT_NE(answer.find("too_large"), std::string::npos) << answer.substr(0, 300);
  EXPECT_NE(answer.find("Connection: close"), std::string::npos) << answer.substr(0, 300);
}

}  // namespace
}  // namespace kumo::http

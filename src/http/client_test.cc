// Streaming, shutdown and failure behaviour of a real Server with the real Client.
#include "http/client.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "http/server.h"

namespace kumo::http {
namespace {

using namespace std::chrono_literals;

// A one-shot flag one thread raises and another waits for (bounded, so a bug fails the
// test instead of hanging it).
class Signal {
 public:
  void raise() {
    std::lock_guard lock(mu_);
    raised_ = true;
    cv_.notify_all();
  }
  bool wait(std::chrono::milliseconds limit = 10s) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, limit, [&] { return raised_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool raised_ = false;
};

std::unique_ptr<Server> start_server(Router router, int port = 0) {
  auto server = std::make_unique<Server>(ServerOptions{"127.0.0.1", port, 2}, std::move(router));
  auto started = server->start();
  EXPECT_TRUE(started.has_value()) << started.error().message;
  return server;
}

TEST(Streaming, EachChunkReachesTheClientBeforeTheNextIsWritten) {
  Signal first_arrived;
  bool producer_waited_in_vain = false;
  std::thread producer;
  Router router;
  router.add("GET", "/events", [&](Request&&, std::shared_ptr<Responder> r) {
    r->start_stream(200, {{"Content-Type", "text/event-stream"}});
    producer = std::thread([&, r] {
      r->write_chunk("data: one\n\n");
      // The last chunk is written only once the first one was seen by the client, so the
      // first cannot have been held back until the end of the reply.
      producer_waited_in_vain = !first_arrived.wait();
      std::this_thread::sleep_for(200ms);
      r->write_chunk("data: two\n\n");
      std::this_thread::sleep_for(200ms);
      r->write_chunk("data: three\n\n");
      r->finish();
    });
  });
  router.add("GET", "/after", [](Request&& req, std::shared_ptr<Responder> r) {
    r->send({200, {}, std::to_string(req.remote_port)});
  });
  auto server = start_server(std::move(router));
  Client client({"127.0.0.1", server->port()});
  std::vector<std::string> pieces;
  auto res = client.stream("GET", "/events", "", {}, [&](std::string_view data) {
    pieces.emplace_back(data);
    if (pieces.size() == 1) first_arrived.raise();
  });
  producer.join();
  ASSERT_TRUE(res.has_value()) << res.error().message;
  EXPECT_FALSE(producer_waited_in_vain);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->header("content-type"), "text/event-stream");
  EXPECT_TRUE(res->body.empty());
  ASSERT_GE(pieces.size(), 2u);
  EXPECT_EQ(pieces.front(), "data: one\n\n");
  std::string all;
  for (const auto& p : pieces) all += p;
  EXPECT_EQ(all, "data: one\n\ndata: two\n\ndata: three\n\n");
  // Keep-alive carries on after a finished stream.
  auto after = client.request("GET", "/after");
  ASSERT_TRUE(after.has_value()) << after.error().message;
  EXPECT_EQ(after->status, 200);
}

TEST(Streaming, ClientStreamAlsoReadsPlainBodies) {
  Router router;
  router.add("GET", "/plain", [](Request&&, std::shared_ptr<Responder> r) {
    r->send({200, {}, std::string(100 * 1024, 'p')});
  });
  auto server = start_server(std::move(router));
  Client client({"127.0.0.1", server->port()});
  size_t total = 0;
  auto res = client.stream("GET", "/plain", "", {}, [&](std::string_view d) { total += d.size(); });
  ASSERT_TRUE(res.has_value()) << res.error().message;
  EXPECT_EQ(total, 100u * 1024u);
}

TEST(Server, StopClosesOpenConnectionsAndIgnoresLateAnswers) {
  std::promise<std::shared_ptr<Responder>> parked;
  Router router;
  router.add("GET", "/ok", [](Request&&, std::shared_ptr<Responder> r) { r->send({}); });
  router.add("GET", "/hang",
             [&](Request&&, std::shared_ptr<Responder> r) { parked.set_value(std::move(r)); });
  auto server = start_server(std::move(router));
  Client idle({"127.0.0.1", server->port()});
  ASSERT_TRUE(idle.request("GET", "/ok").has_value());  // an open keep-alive connection
  auto pending = std::async(std::launch::async, [port = server->port()] {
    Client client({"127.0.0.1", port});
    return client.request("GET", "/hang");
  });
  auto responder = parked.get_future().get();
  server->stop();
  auto res = pending.get();
  ASSERT_FALSE(res.has_value());
  EXPECT_EQ(res.error().code, ErrorCode::kUnavailable);
  EXPECT_TRUE(responder->closed());
  responder->send({200, {}, "too late"});  // ignored, not a crash
  server.reset();
  responder.reset();
}

TEST(Server, SecondServerOnABusyPortFailsToStart) {
  auto first = start_server(Router{});
  Server second(ServerOptions{"127.0.0.1", first->port(), 2}, Router{});
  auto started = second.start();
  ASSERT_FALSE(started.has_value());
  EXPECT_EQ(started.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(started.error().message.find(std::to_string(first->port())), std::string::npos);
}

TEST(Client, ReconnectsWhenTheKeptConnectionWasClosed) {
  auto handler = [](Request&&, std::shared_ptr<Responder> r) { r->send({200, {}, "up"}); };
  Router router;
  router.add("GET", "/", handler);
  auto server = start_server(std::move(router));
  int port = server->port();
  Client client({"127.0.0.1", port});
  ASSERT_TRUE(client.request("GET", "/").has_value());
  server->stop();  // closes the client's kept connection
  server.reset();
  Router again;
  again.add("GET", "/", handler);
  auto restarted = start_server(std::move(again), port);
  auto res = client.request("GET", "/");
  ASSERT_TRUE(res.has_value()) << res.error().message;
  EXPECT_EQ(res->body, "up");
}

TEST(Client, UnreachableServerIsUnavailable) {
  int port;
  {
    auto server = start_server(Router{});
    port = server->port();
  }
  Client client({"127.0.0.1", port});
  auto res = client.request("GET", "/");
  ASSERT_FALSE(res.has_value());
  EXPECT_EQ(res.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(res.error().message.find("127.0.0.1:" + std::to_string(port)), std::string::npos);
}

TEST(Client, TimesOutWhenNoAnswerComes) {
  std::shared_ptr<Responder> parked;
  Router router;
  router.add("GET", "/hang", [&](Request&&, std::shared_ptr<Responder> r) { parked = r; });
  auto server = start_server(std::move(router));
  Client client({"127.0.0.1", server->port()});
  auto res = client.request("GET", "/hang", "", {}, 100ms);
  ASSERT_FALSE(res.has_value());
  EXPECT_EQ(res.error().code, ErrorCode::kTimeout);
  server->stop();
}

TEST(Client, ConnectsWithTheOpenersSocketOncePerConnection) {
  Router router;
  router.add("GET", "/up", [](Request&&, std::shared_ptr<Responder> r) {
    r->send({200, {}, "up"});
  });
  auto server = start_server(std::move(router));
  int opened = 0;
  Client client({"127.0.0.1", server->port()}, [&]() -> Result<int> {
    ++opened;
    return ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  });
  for (int i = 0; i < 3; ++i) {
    auto res = client.request("GET", "/up");
    ASSERT_TRUE(res.has_value()) << res.error().message;
    EXPECT_EQ(res->body, "up");
  }
  EXPECT_EQ(opened, 1);  // kept alive
}

TEST(Client, AnOpenerThatFailsMakesTheServerUnavailableWithItsReason) {
  auto server = start_server(Router{});
  Client client({"127.0.0.1", server->port()}, []() -> Result<int> {
    return make_error(ErrorCode::kInternal, "no namespace to make it in");
  });
  auto res = client.request("GET", "/");
  ASSERT_FALSE(res.has_value());
  EXPECT_EQ(res.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(res.error().message.find("no namespace to make it in"), std::string::npos)
      << res.error().message;
}

}  // namespace
}  // namespace kumo::http

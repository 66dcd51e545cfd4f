#include "executor/exec_instance.h"


#include <algorithm>
#include <cctype>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/check.h"
#include "http/client.h"

namespace kumo::executor {
namespace {

using std::chrono::milliseconds;

// Headers that describe one connection, not the request: the client sets its own.
bool hop_by_hop(std::string_view name) {
  static constexpr std::string_view kNames[] = {
      "connection", "keep-alive",     "transfer-encoding", "te",   "upgrade",
      "host",       "content-length", "proxy-connection",  "trailer"};
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return std::find(std::begin(kNames), std::end(kNames), lower) != std::end(kNames);
}

http::Headers forwarded_headers(const Invocation& inv) {
  http::Headers headers;
  if (inv.http) {
    for (const auto& [name, value] : inv.http->headers) {
      if (!hop_by_hop(name)) headers.emplace_back(name, value);
    }
  } else {
    headers.emplace_back("Content-Type", "application/json");
  }
  headers.emplace_back("X-Kumo-Request-Id", inv.request_id);
  return headers;
}

Reply ok_reply(http::ClientResponse response) {
  Reply reply;
  reply.http_status = response.status;
  reply.content_type = response.header("content-type");
  if (reply.content_type.empty()) reply.content_type = "application/octet-stream";
  for (auto& [name, value] : response.headers) {
    if (!hop_by_hop(name)) reply.http_headers.emplace_back(std::move(name), std::move(value));
  }
  reply.body = std::move(response.body);
  return reply;
}

}  // namespace

Result<std::unique_ptr<Instance>> ExecInstance::launch(InstanceSetup setup,
                                                       std::vector<std::string> env,
                                                       int64_t rlimit_as_bytes) {
  auto port = pick_free_port();
  if (!port) return port.error();
  ProcessSpec ps;
  ps.argv = {"/bin/sh", "-c", setup.spec.handler};
  ps.env = std::move(env);
  ps.env.push_back("PORT=" + std::to_string(*port));
  setup.place(ps);
  ps.cgroup_procs = setup.cgroup_procs();
  ps.rlimit_as_bytes = rlimit_as_bytes;
  int workers = std::max(1, setup.spec.concurrency);
  std::unique_ptr<ExecInstance> instance(new ExecInstance(std::move(setup), *port));
  if (auto started = instance->start(ps); !started) {
    return started.error();
  }
  for (int i = 0; i < workers; ++i) {
    instance->workers_.emplace_back([raw = instance.get()] { raw->worker(); });
  }
  return std::unique_ptr<Instance>(std::move(instance));
}

ExecInstance::~ExecInstance() {
  shutdown();
  stop_workers();
}

void ExecInstance::invoke(Invocation inv, ReplyHandler handler) {
  auto slot = add_pending(inv, std::move(handler));
  if (!slot) return;
  auto deadline = std::chrono::steady_clock::now() + inv.timeout;
  std::lock_guard lock(queue_mu_);
  queue_.push_back(Job{*slot, std::move(inv), deadline});
  queue_cv_.notify_one();
}

std::optional<milliseconds> ExecInstance::tick_interval() const {
  if (ready()) return std::nullopt;
  return milliseconds(5);  // how often to try the port until the program listens
}

void ExecInstance::on_tick() {
  auto netns = this->netns();
  if (!netns) return;  // the process's exit or the init deadline ends it
  bool accepts = false;
  if (*netns == nullptr) {
    accepts = port_accepts(port_);
  } else if (auto fd = (*netns)->tcp_socket()) {
    accepts = connects_to_loopback(std::move(*fd), port_);
  }
  if (accepts) mark_ready();
}

Result<NetnsSockets*> ExecInstance::netns() {
  std::lock_guard lock(netns_mu_);
  if (!netns_known_) {
    netns_known_ = true;
    // A process already gone reads as another namespace: nothing is then tried on ours.
    bool own = setup().sandbox.enabled && !setup().sandbox.network;
    if (own || !same_netns(pid())) {
      auto sockets = NetnsSockets::start(pid());
      if (sockets) {
        netns_ = std::move(*sockets);
      } else {
        netns_error_ = sockets.error();
        // Without a namespace of its own only a process gone already gets here.
        if (own) spdlog::warn("instance {}: {}", id(), sockets.error().message);
      }
    }
  }
  if (netns_error_) return *netns_error_;
  return netns_.get();
}

Result<int> ExecInstance::open_socket() {
  auto netns = this->netns();
  if (!netns) return netns.error();
  KUMO_CHECK(*netns != nullptr);  // asked for only when the process is in another namespace
  auto fd = (*netns)->tcp_socket();
  if (!fd) return fd.error();
  return fd->release();
}

std::string ExecInstance::untagged_request_id() { return sole_request_id(); }

void ExecInstance::on_process_gone() { stop_workers(); }

void ExecInstance::stop_workers() {
  {
    std::lock_guard lock(queue_mu_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  for (auto& t : workers_) {
    if (t.joinable()) t.join();
  }
}

void ExecInstance::worker() {
  // In our own namespace the client makes its sockets itself, as for any server.
  auto netns = this->netns();
  http::SocketOpener opener;
  if (!netns || *netns != nullptr) opener = [this] { return open_socket(); };
  http::Client client(http::Endpoint{"127.0.0.1", port_}, std::move(opener));
  while (true) {
    Job job;
    {
      std::unique_lock lock(queue_mu_);
      queue_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;  // queued jobs were failed by the exit sequence
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    serve(job, client);
  }
}

void ExecInstance::serve(const Job& job, http::Client& client) {
  std::string method = "POST";
  std::string target = "/";
  const std::string* body = &job.inv.payload;
  if (job.inv.http) {
    method = job.inv.http->method;
    target = job.inv.http->path.empty() ? "/" : job.inv.http->path;
    if (!job.inv.http->query.empty()) target += "?" + job.inv.http->query;
    body = &job.inv.http->body;
  }
  // The watchdog kills the instance at the deadline; the margin keeps the client from
  // racing it with a less precise error.
  auto left = std::chrono::ceil<milliseconds>(job.deadline - std::chrono::steady_clock::now());
  auto response = client.request(method, target, *body, forwarded_headers(job.inv),
                                 std::max(left, milliseconds(0)) + std::chrono::seconds(1),
                                 kMaxResultBytes);
  if (response) {
    sync_output();
    finish(job.slot, ok_reply(std::move(*response)));
    return;
  }
  if (response.error().code == ErrorCode::kTooLarge) {
    Reply reply;
    reply.outcome = Outcome::kError;
    reply.error_type = std::string(kResultTooLarge);
    reply.error_message = fmt::format("function result exceeds {} MB",
                                      kMaxResultBytes / (1024 * 1024));
    finish(job.slot, std::move(reply));
    return;
  }
  // A broken connection usually means the process died: let the exit sequence say how.
  if (wait_for_exit(milliseconds(200))) return;
  Reply reply;
  reply.outcome = Outcome::kError;
  reply.error_type = "ConnectionError";
  reply.error_message = response.error().message;
  finish(job.slot, std::move(reply));
}

}  // namespace kumo::executor

// kumo-model: the instance program of a `runtime: model` function. Serves one ONNX model
// on 127.0.0.1:$PORT over the Open Inference Protocol (KServe v2, JSON), with the
// inference engine (ONNX Runtime) inside this process and a dynamic batcher in front of it.
// The exec runtime starts it and forwards the gateway's /v2/models/{name}/... requests.
#include <sched.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <charconv>
#include <filesystem>

#include "http/server.h"
#include "runtimes/model/batcher.h"
#include "runtimes/model/kserve.h"
#include "runtimes/model/ort.h"

namespace kumo::model {
namespace {

struct Options {
  std::string model, name = "model", host = "127.0.0.1", library;
  int port = 8080, max_batch = 1, threads = 0;
  int64_t max_delay_us = 0;
};

// Where libonnxruntime.so.1 is: --library, $KUMO_ORT_LIB, next to this program, the
// build's fetched copy, then the system's search path.
std::string find_library(const std::string& flag) {
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("KUMO_ORT_LIB"); env != nullptr && *env != 0) return env;
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  for (const std::string& candidate :
       {self.parent_path().string() + "/libonnxruntime.so.1", std::string(KUMO_ORT_FETCHED)}) {
    if (!ec && std::filesystem::exists(candidate)) return candidate;
  }
  return "libonnxruntime.so.1";
}

int available_cores() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return 1;
}

// KServe's error shape: {"error": "<message>"}.
http::Response kserve_error(int status, const std::string& message) {
  return http::json_response(status, {{"error", message}});
}

class ModelServer {
 public:
  ModelServer(const Options& o, std::unique_ptr<Session> session)
      : name_(o.name),
        session_(std::move(session)),
        batcher_({o.max_batch, std::chrono::microseconds(o.max_delay_us)},
                 [this](const std::vector<Tensor>& in) { return session_->run(in); }) {}

  http::Router router() {
    http::Router r;
    for (std::string base : {"/v2/models/{name}", "/v2/models/{name}/versions/{version}"}) {
      r.add("GET", base, [this](http::Request&& q, auto res) { metadata(q, res); });
      r.add("GET", base + "/ready", [this](http::Request&& q, auto res) { ready(q, res); });
      r.add(
          "POST", base + "/infer",
          [this](http::Request&& q, auto res) { infer(std::move(q), res); }, 256 * 1024 * 1024);
    }
    auto ok = [](http::Request&&, std::shared_ptr<http::Responder> res) {
      res->send(http::json_response(200, {{"live", true}, {"ready", true}}));
    };
    r.add("GET", "/v2/health/live", ok);
    r.add("GET", "/v2/health/ready", ok);
    r.add("GET", "/v2", [this](http::Request&&, std::shared_ptr<http::Responder> res) {
      res->send(http::json_response(
          200, {{"name", "kumo-model"}, {"version", session_->version()}, {"extensions", {}}}));
    });
    return r;
  }

 private:
  // False after answering 404 when the path names another model or version.
  bool known(const http::Request& q, const std::shared_ptr<http::Responder>& res) const {
    auto version = q.params.find("version");
    if (q.params.at("name") == name_ && (version == q.params.end() || version->second == "1")) {
      return true;
    }
    res->send(kserve_error(404, "model '" + q.params.at("name") + "' (version " +
                                    (version == q.params.end() ? "1" : version->second) +
                                    ") is not served here; this serves '" + name_ + "' (1)"));
    return false;
  }

  void metadata(const http::Request& q, const std::shared_ptr<http::Responder>& res) const {
    if (!known(q, res)) return;
    res->send(
        http::json_response(200, model_metadata(name_, session_->inputs(), session_->outputs())));
  }

  void ready(const http::Request& q, const std::shared_ptr<http::Responder>& res) const {
    if (!known(q, res)) return;
    res->send(http::json_response(200, {{"name", name_}, {"ready", true}}));
  }

  void infer(http::Request&& q, std::shared_ptr<http::Responder> res);

  const std::string name_;
  std::unique_ptr<Session> session_;
  Batcher batcher_;
};

void ModelServer::infer(http::Request&& q, std::shared_ptr<http::Responder> res) {
  if (!known(q, res)) return;
  std::optional<size_t> json_length;
  if (std::string h = q.header("inference-header-content-length"); !h.empty()) {
    size_t n = 0;
    auto [end, ec] = std::from_chars(h.data(), h.data() + h.size(), n);
    if (ec != std::errc() || end != h.data() + h.size()) {
      return res->send(kserve_error(400, "Inference-Header-Content-Length must be a number"));
    }
    json_length = n;
  }
  auto request = parse_infer_request(q.body, session_->inputs(), json_length);
  if (!request) return res->send(kserve_error(400, request.error().message));
  for (const std::string& wanted : request->outputs) {
    bool found = false;
    for (const TensorSpec& s : session_->outputs()) found = found || s.name == wanted;
    if (!found) return res->send(kserve_error(400, "the model has no output '" + wanted + "'"));
  }
  batcher_.submit(
      std::move(request->inputs),
      [this, res, id = request->id, wanted = request->outputs](auto outputs, Batcher::Pass pass) {
        if (!outputs) {
          int status = outputs.error().code == ErrorCode::kInvalidArgument ? 400 : 500;
          return res->send(kserve_error(status, outputs.error().message));
        }
        http::Response r;
        r.headers.emplace_back("content-type", "application/json");
        r.body = infer_response(name_, id, *outputs, wanted,
                                {{"batch_size", pass.rows},
                                 {"queue_us", pass.queued.count()},
                                 {"run_us", pass.run.count()}});
        res->send(std::move(r));
      });
}

int serve(const Options& o) {
  // Blocked before any thread starts, so only sigwait below sees them.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  int threads = o.threads > 0 ? o.threads : available_cores();
  auto session = Session::open({find_library(o.library), o.model, threads});
  if (!session) {
    spdlog::error("kumo-model: {}", session.error().message);
    return 1;
  }
  Options options = o;
  const TensorSpec& first = (*session)->inputs().front();
  if (options.max_batch > 1 && (first.shape.empty() || first.shape[0] >= 0)) {
    spdlog::warn("kumo-model: input '{}' has no free first dimension; batching is off", first.name);
    options.max_batch = 1;
  }
  spdlog::info("kumo-model: {} on ONNX Runtime {}, {} threads, batch up to {} within {} us",
               o.model, (*session)->version(), threads, options.max_batch, options.max_delay_us);
  ModelServer model(options, std::move(*session));
  http::Server server({o.host, o.port, 0}, model.router());
  if (auto started = server.start(); !started) {
    spdlog::error("kumo-model: {}", started.error().message);
    return 1;
  }
  int sig = 0;
  sigwait(&stop, &sig);
  server.stop();
  return 0;
}

}  // namespace
}  // namespace kumo::model

int main(int argc, char** argv) {
  kumo::model::Options o;
  CLI::App app{"kumo-model: serves one ONNX model over the Open Inference Protocol (KServe v2)"};
  app.add_option("--model", o.model, "the .onnx file")->required();
  app.add_option("--name", o.name, "the model's name in /v2/models/{name}");
  app.add_option("--host", o.host, "address to listen on");
  app.add_option("--port", o.port, "port to listen on");
  app.add_option("--max-batch", o.max_batch, "rows stacked into one forward pass (1: off)")
      ->check(CLI::Range(1, 1024));
  app.add_option("--max-delay-us", o.max_delay_us, "longest wait to fill a batch")
      ->check(CLI::Range(int64_t{0}, int64_t{60'000'000}));
  app.add_option("--threads", o.threads, "intra-op threads (0: the cores this process may use)");
  app.add_option("--library", o.library, "libonnxruntime.so.1 (default: $KUMO_ORT_LIB, ...)");
  CLI11_PARSE(app, argc, argv);
  return kumo::model::serve(o);
}

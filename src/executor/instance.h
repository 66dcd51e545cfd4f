// The executor's public interface: a Launcher starts Instances of a function; an Instance is
// one process that runs invocations of one function version.
//
// Threading: every method is thread-safe. Callbacks (ReplyHandler, InstanceObserver) run on
// executor-owned threads, never inside the call that caused them, so a caller may hold its
// own lock while calling invoke()/stop() only if its callbacks do not take that lock;
// the scheduler calls these methods with its lock released.
// Lifetime: an Instance is owned by whoever launched it (the scheduler's pool); destroying it
// kills the process if still alive and waits for its threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace kumo::executor {

enum class Runtime { kPython3, kExec };

// Everything needed to start one instance.
struct LaunchSpec {
  std::string function;
  int version = 0;
  Runtime runtime = Runtime::kPython3;
  std::string handler;         // python3: "module.function"; exec: a command line run by /bin/sh
  std::string code_dir;        // the unpacked package (read-only, shared by instances)
  std::string instances_root;  // each instance makes its own working directory under this
  std::string log_path;        // the function's log file; lines are appended
  int memory_mb = 128;
  int ephemeral_mb = 512;      // the instance's writable /tmp, where mounts are usable
  std::chrono::milliseconds timeout{30'000};  // per invocation; the instance is killed past it
  int concurrency = 1;
  std::map<std::string, std::string> env;     // the spec's env, added to the platform's own
  // What the instances may do in Kumo (the spec's permissions, as text). Opaque here: only
  // LauncherOptions::credentials reads it.
  std::string permissions;
  bool zygote = true;          // python3: may fork from a template that ran the init phase
  bool network = false;        // outbound network (the host's namespace); else only loopback
  int batch_max_size = 1;      // model: requests per forward pass
  std::chrono::milliseconds batch_max_delay{0};
};

// An HTTP request to pass to an `exec` function as it came (the HTTP trigger).
struct HttpCall {
  std::string method;
  std::string path;   // the part after /fn/{name}, starting with '/'
  std::string query;  // without '?'
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// One invocation sent to an instance.
struct Invocation {
  std::string request_id;
  std::string payload;  // the event, JSON text (python3: the handler's `event`)
  std::optional<HttpCall> http;  // set for HTTP-triggered calls of exec functions
  std::chrono::milliseconds timeout{30'000};
  int attempt = 1;
};

enum class Outcome {
  kOk,         // the handler returned
  kError,      // the handler raised (error_type/error_message say what)
  kTimeout,    // past its timeout: the instance was killed
  kCrash,      // the process died while serving it
  kOom,        // the process ran out of memory
  kInitError,  // the instance's init failed (module import raised)
  kThrottled,  // never reached an instance: it waited in the queue past its timeout
};

const char* outcome_name(Outcome o);

// A result that is not streamed is capped at this size (Lambda's limit for a buffered
// response): past it the invocation ends kError with error_type kResultTooLarge and the
// executor never holds the bytes. Streamed output has no total cap.
inline constexpr size_t kMaxResultBytes = 6 * 1024 * 1024;
inline constexpr std::string_view kResultTooLarge = "Function.ResponseSizeTooLarge";

struct Reply {
  Outcome outcome = Outcome::kOk;
  std::string body;          // kOk: the result bytes (JSON unless content_type says otherwise)
  std::string content_type;  // "application/json" unless the function chose another
  std::string error_type;    // e.g. "ValueError", "Timeout", "OutOfMemory"
  std::string error_message;
  bool streamed = false;     // true when the body went out through on_chunk
  bool started = true;       // false: it waited behind another invocation on an instance
                             // that then died, and never ran; it may be sent elsewhere
  // How long it waited inside the instance behind a running invocation before it began
  // (sent ahead): queueing, not the function's time. Zero when it began as it arrived.
  std::chrono::microseconds waited{0};
  int http_status = 0;       // exec functions: the program's HTTP status (0 for python3)
  std::vector<std::pair<std::string, std::string>> http_headers;  // exec functions only
};

// Callbacks for one invocation. on_stream_start/on_chunk are optional (may be empty) and are
// called only when the function streams; on_done is always called exactly once, last.
struct ReplyHandler {
  std::function<void(std::string_view content_type)> on_stream_start;
  std::function<void(std::string_view chunk)> on_chunk;
  std::function<void(Reply)> on_done;
  // Optional flow control for streams, asked after each chunk. wait(resume) true means the
  // consumer holds as much as it buffers: the instance reads no more of the function's
  // output (so the function's writes block and it waits) until `resume` runs: once, from
  // any thread, quickly, possibly after the instance is gone. gone() true means the
  // consumer went away: the instance is stopped (freeing it) and the invocation ends kCrash.
  std::function<bool(std::function<void()> resume)> wait;
  std::function<bool()> gone;
};

// How a process ended.
struct ExitInfo {
  bool oom = false;       // killed for memory (cgroup OOM or MemoryError)
  bool requested = false; // we stopped it (stop(), timeout)
  int exit_code = -1;     // when it exited
  int signal = 0;         // when a signal killed it
};

// Implemented by the owner of instances (the scheduler).
class InstanceObserver {
 public:
  virtual ~InstanceObserver() = default;
  // Init succeeded: the instance can take invocations.
  virtual void on_ready(const std::string& instance_id) = 0;
  // Init failed; `error` has kInitError with the exception type and message.
  virtual void on_init_failed(const std::string& instance_id, const Reply& error) = 0;
  // The process is gone (after all of its in-flight invocations got their on_done).
  virtual void on_exit(const std::string& instance_id, const ExitInfo& info) = 0;
};

class Instance {
 public:
  virtual ~Instance() = default;
  virtual const std::string& id() const = 0;
  // Sends one invocation. Only after on_ready, and at most `concurrency` +
  // pipeline_depth() at a time.
  virtual void invoke(Invocation inv, ReplyHandler handler) = 0;
  // How many invocations beyond `concurrency` the instance takes ahead of time, each
  // waiting in its own channel until a running one ends (its timeout starts then). Sending
  // one early lets the function start it without waiting for a round trip through the
  // server, which under load is most of a no-op invocation's cost.
  virtual int pipeline_depth() const { return 0; }
  // Stops the process (SIGKILL); in-flight invocations end with kCrash unless already done.
  virtual void stop() = 0;
  // Proportional set size of the process in bytes (shared pages divided among sharers).
  virtual int64_t pss_bytes() const = 0;
};

class Launcher {
 public:
  virtual ~Launcher() = default;
  // Starts an instance; returns at once. Readiness is reported through `observer`, which
  // must outlive the instance.
  virtual Result<std::unique_ptr<Instance>> launch(const LaunchSpec& spec,
                                                   InstanceObserver& observer) = 0;
  // The function version will not be launched again (deleted, or replaced by a newer one):
  // what the launcher keeps for it (python3: its zygote) may go. Running instances stay.
  virtual void release_version(const std::string& /*function*/, int /*version*/) {}
};

}  // namespace kumo::executor

// Network namespaces of boxed instances: an instance started with CLONE_NEWNET has only its own
// loopback, so Kumo reaches into it with sockets made inside that namespace. A socket belongs for
// its whole life to the namespace it was created in, whichever thread later uses it, so the helpers
// here change a thread's namespace only on threads they own (or, for enter_netns_of, on a caller's
// dedicated thread) and hand back sockets.
//
// Never let a thread that entered an instance's namespace run other code's callbacks: a fork() from
// it (an instance launched by the scheduler) would put the new process in that namespace, and any
// socket it opens would be made there.
//
// Free functions are thread-safe. Needs CAP_SYS_ADMIN (setns) for the entering ones.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "common/result.h"
#include "executor/unique_fd.h"

namespace kumo::executor {

// A TCP socket listening on 127.0.0.1:port (port 0: any) inside the network namespace of `pid`,
// non-blocking, close-on-exec, SO_REUSEADDR, backlog 128. Made on a short-lived thread that enters
// the namespace; the calling thread's namespace never changes.
Result<UniqueFd> listen_in_netns(pid_t pid, int port);

// Moves the calling thread into the network namespace of `pid`; nothing when it is already there.
// For threads that exist only to talk to that namespace (see the note above).
Result<void> enter_netns_of(pid_t pid);

// True when the calling thread and `pid` share a network namespace; false when they do not or
// either cannot be read (a process that is gone).
bool same_netns(pid_t pid);

// For a child between clone(CLONE_NEWNET) and exec: sets IFF_UP on "lo", whose 127.0.0.1 a new
// namespace has down. Async-signal-safe (socket, ioctl, close). 0, or the errno.
int bring_loopback_up();

// Makes TCP sockets inside another process's network namespace for threads that stay in their own:
// one thread of its own lives in that namespace and makes each socket on request (a round trip per
// socket, so keep the connections). Thread-safe; the destructor joins.
class NetnsSockets {
 public:
  // Starts the thread; fails when `pid`'s namespace cannot be entered.
  static Result<std::unique_ptr<NetnsSockets>> start(pid_t pid);
  ~NetnsSockets();
  NetnsSockets(const NetnsSockets&) = delete;
  NetnsSockets& operator=(const NetnsSockets&) = delete;

  // A new IPv4 stream socket (close-on-exec, blocking) of that namespace.
  Result<UniqueFd> tcp_socket();

 private:
  NetnsSockets() = default;
  void run(pid_t pid, UniqueFd netns);

  std::mutex call_mu_;  // one request at a time
  std::mutex mu_;
  std::condition_variable cv_;
  bool entered_ = false;                    // Guarded by mu_: the thread is in the namespace.
  std::optional<Error> enter_error_;        // Guarded by mu_.
  bool requested_ = false;                  // Guarded by mu_.
  std::optional<Result<UniqueFd>> answer_;  // Guarded by mu_.
  bool stopping_ = false;                   // Guarded by mu_.
  std::thread thread_;
};

// True when `fd` (a fresh TCP socket) connects to 127.0.0.1:port of the namespace it belongs to.
// Closes it.
bool connects_to_loopback(UniqueFd fd, int port);

}  // namespace kumo::executor

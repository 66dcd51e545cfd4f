#include "executor/netns.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <system_error>

namespace kumo::executor {
namespace {

std::string netns_path(pid_t pid) { return fmt::format("/proc/{}/ns/net", pid); }

Error errno_error(const std::string& what, int err) {
  return make_error(ErrorCode::kInternal, fmt::format("{}: {}", what, std::strerror(err)));
}

Result<UniqueFd> open_netns(pid_t pid) {
  std::string path = netns_path(pid);
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return errno_error(fmt::format("cannot open {}", path), errno);
  return fd;
}

Result<void> enter(int netns_fd, pid_t pid) {
  if (::setns(netns_fd, CLONE_NEWNET) != 0) {
    return errno_error(fmt::format("cannot enter the network namespace of process {}", pid), errno);
  }
  return {};
}

sockaddr_in loopback(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  return addr;
}

// socket/bind/listen on the calling thread, in its namespace.
Result<UniqueFd> listen_here(int port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) return errno_error("socket", errno);
  int one = 1;
  sockaddr_in addr = loopback(port);
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      ::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(fd.get(), 128) != 0) {
    return errno_error(fmt::format("cannot listen on 127.0.0.1:{} in the instance's network "
                                   "namespace",
                                   port),
                       errno);
  }
  return fd;
}

bool same_file(const char* a, const char* b) {
  struct stat sa {};
  struct stat sb {};
  return ::stat(a, &sa) == 0 && ::stat(b, &sb) == 0 && sa.st_ino == sb.st_ino &&
         sa.st_dev == sb.st_dev;
}

}  // namespace

Result<UniqueFd> listen_in_netns(pid_t pid, int port) {
  auto netns = open_netns(pid);
  if (!netns) return netns.error();
  Result<UniqueFd> out = make_error(ErrorCode::kInternal, "no thread ran");
  try {
    std::thread([&] {
      if (auto entered = enter(netns->get(), pid); !entered) {
        out = entered.error();
        return;
      }
      out = listen_here(port);
    }).join();
  } catch (const std::system_error& e) {
    return make_error(ErrorCode::kInternal, fmt::format("cannot start a thread: {}", e.what()));
  }
  return out;
}

bool same_netns(pid_t pid) {
  return same_file("/proc/thread-self/ns/net", netns_path(pid).c_str());
}

Result<void> enter_netns_of(pid_t pid) {
  if (same_netns(pid)) return {};
  auto netns = open_netns(pid);
  if (!netns) return netns.error();
  return enter(netns->get(), pid);
}

int bring_loopback_up() {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno;
  ifreq req{};
  std::memcpy(req.ifr_name, "lo", 3);
  int err = 0;
  if (::ioctl(fd, SIOCGIFFLAGS, &req) != 0) {
    err = errno;
  } else {
    req.ifr_flags = static_cast<short>(req.ifr_flags | IFF_UP);
    if (::ioctl(fd, SIOCSIFFLAGS, &req) != 0) err = errno;
  }
  ::close(fd);
  return err;
}

bool connects_to_loopback(UniqueFd fd, int port) {
  sockaddr_in addr = loopback(port);
  return fd.valid() && ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
}

Result<std::unique_ptr<NetnsSockets>> NetnsSockets::start(pid_t pid) {
  auto netns = open_netns(pid);
  if (!netns) return netns.error();
  std::unique_ptr<NetnsSockets> sockets(new NetnsSockets());
  try {
    sockets->thread_ = std::thread([raw = sockets.get(), fd = std::move(*netns), pid]() mutable {
      raw->run(pid, std::move(fd));
    });
  } catch (const std::system_error& e) {
    return make_error(ErrorCode::kInternal, fmt::format("cannot start a thread: {}", e.what()));
  }
  std::unique_lock lock(sockets->mu_);
  sockets->cv_.wait(lock, [&] { return sockets->entered_ || sockets->enter_error_; });
  if (sockets->enter_error_) return *sockets->enter_error_;  // the thread has ended
  return sockets;
}

NetnsSockets::~NetnsSockets() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void NetnsSockets::run(pid_t pid, UniqueFd netns) {
  auto entered = enter(netns.get(), pid);
  netns.reset();
  std::unique_lock lock(mu_);
  if (!entered) {
    enter_error_ = entered.error();
    cv_.notify_all();
    return;
  }
  entered_ = true;
  cv_.notify_all();
  while (true) {
    cv_.wait(lock, [this] { return stopping_ || requested_; });
    if (stopping_) return;
    requested_ = false;
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    answer_ = fd.valid() ? Result<UniqueFd>(std::move(fd)) : errno_error("socket", errno);
    cv_.notify_all();
  }
}

Result<UniqueFd> NetnsSockets::tcp_socket() {
  std::lock_guard call(call_mu_);
  std::unique_lock lock(mu_);
  requested_ = true;
  cv_.notify_all();
  cv_.wait(lock, [this] { return answer_.has_value(); });
  Result<UniqueFd> out = std::move(*answer_);
  answer_.reset();
  return out;
}

}  // namespace kumo::executor

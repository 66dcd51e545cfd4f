// Real network namespaces: a forked child in a namespace of its own (loopback up), and the sockets
// the helpers make there. Needs root (unshare, setns), as the executor's tests do.
#include "executor/netns.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <thread>

namespace kumo::executor {
namespace {

sockaddr_in loopback(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  return addr;
}

// 0 when a fresh socket of the calling thread's namespace connects to 127.0.0.1:port, else the
// errno. Async-signal-safe (the child uses it).
int try_connect(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno;
  sockaddr_in addr = loopback(port);
  int err = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 ? 0 : errno;
  ::close(fd);
  return err;
}

int port_of(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return -1;
  return ntohs(addr.sin_port);
}

// A socket bound to 127.0.0.1:port (0: any) of the calling thread's namespace; listening when
// `listening`.
UniqueFd bound_socket(int port, bool listening) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr = loopback(port);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return {};
  if (listening && ::listen(fd.get(), 16) != 0) return {};
  return fd;
}

// A child process in a network namespace of its own with loopback up. It answers commands over a
// pipe: 'c' + port: try to connect there (reply: 0 or the errno); 'l': listen on a free port
// (reply: the port). It exits when its command pipe closes.
class BoxedChild {
 public:
  BoxedChild() {
    int cmd[2], reply[2];
    EXPECT_EQ(::pipe2(cmd, O_CLOEXEC), 0);
    EXPECT_EQ(::pipe2(reply, O_CLOEXEC), 0);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(cmd[1]);
      ::close(reply[0]);
      serve(cmd[0], reply[1]);
    }
    ::close(cmd[0]);
    ::close(reply[1]);
    cmd_.reset(cmd[1]);
    reply_.reset(reply[0]);
    ready_ = read_int() == 0;  // the child's first reply: its setup
  }
  ~BoxedChild() {
    cmd_.reset();
    reply_.reset();
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }

  pid_t pid() const { return pid_; }
  bool ready() const { return ready_; }
  int connect_to(int port) { return command('c', port); }
  int listen_somewhere() { return command('l', 0); }

 private:
  [[noreturn]] static void serve(int in, int out) {
    int setup = ::unshare(CLONE_NEWNET) == 0 ? bring_loopback_up() : errno;
    write_int(out, setup);
    UniqueFd listener;  // kept open: the port stays listening
    while (true) {
      char op = 0;
      int port = 0;
      if (::read(in, &op, 1) != 1 || ::read(in, &port, sizeof port) != sizeof port) _exit(0);
      if (op == 'c') write_int(out, try_connect(port));
      if (op == 'l') {
        listener = bound_socket(0, /*listening=*/true);
        write_int(out, port_of(listener.get()));
      }
    }
  }
  static void write_int(int fd, int value) {
    if (::write(fd, &value, sizeof value) != sizeof value) _exit(1);
  }
  int command(char op, int port) {
    EXPECT_EQ(::write(cmd_.get(), &op, 1), 1);
    EXPECT_EQ(::write(cmd_.get(), &port, sizeof port), static_cast<ssize_t>(sizeof port));
    return read_int();
  }
  int read_int() {
    int value = -1;
    EXPECT_EQ(::read(reply_.get(), &value, sizeof value), static_cast<ssize_t>(sizeof value));
    return value;
  }

  pid_t pid_ = -1;
  UniqueFd cmd_, reply_;
  bool ready_ = false;
};

// True when `listener` has a connection waiting within a generous cap.
bool has_pending_connection(int listener) {
  pollfd p{listener, POLLIN, 0};
  if (::poll(&p, 1, 30'000) != 1) return false;
  UniqueFd accepted(::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
  return accepted.valid();
}

TEST(Netns, ListenInNetnsMakesASocketTheBoxCanConnectTo) {
  BoxedChild child;
  ASSERT_TRUE(child.ready());
  auto listener = listen_in_netns(child.pid(), 0);
  ASSERT_TRUE(listener) << listener.error().message;
  int port = port_of(listener->get());
  ASSERT_GT(port, 0);
  EXPECT_EQ(child.connect_to(port), 0);
  EXPECT_TRUE(has_pending_connection(listener->get()));
  EXPECT_FALSE(same_netns(child.pid()));  // the calling thread stayed where it was
}

TEST(Netns, HostCannotConnectToAListenerInTheBox) {
  BoxedChild child;
  ASSERT_TRUE(child.ready());
  // Held bound and not listening, so no host service can be on this port meanwhile.
  UniqueFd reserved = bound_socket(0, /*listening=*/false);
  int port = port_of(reserved.get());
  auto listener = listen_in_netns(child.pid(), port);
  ASSERT_TRUE(listener) << listener.error().message;
  EXPECT_EQ(try_connect(port), ECONNREFUSED);
  EXPECT_EQ(child.connect_to(port), 0);
}

TEST(Netns, TheBoxCannotConnectToAHostListener) {
  BoxedChild child;
  ASSERT_TRUE(child.ready());
  UniqueFd host = bound_socket(0, /*listening=*/true);
  int port = port_of(host.get());
  EXPECT_EQ(try_connect(port), 0);
  EXPECT_EQ(child.connect_to(port), ECONNREFUSED);
}

TEST(Netns, EnterNetnsOfLetsAThreadConnectToTheBoxesListener) {
  BoxedChild child;
  ASSERT_TRUE(child.ready());
  int port = child.listen_somewhere();
  ASSERT_GT(port, 0);
  bool entered = false;
  bool same_after = false;
  int connected = -1;
  std::thread([&] {
    auto ok = enter_netns_of(child.pid());
    entered = ok.has_value();
    same_after = same_netns(child.pid());
    connected = try_connect(port);
    ok = enter_netns_of(child.pid());  // already there: nothing to do
    entered = entered && ok.has_value();
  }).join();
  EXPECT_TRUE(entered);
  EXPECT_TRUE(same_after);
  EXPECT_EQ(connected, 0);
  EXPECT_FALSE(same_netns(child.pid()));
}

TEST(Netns, SameNetnsTellsTheHostFromABoxAndAGoneProcess) {
  EXPECT_TRUE(same_netns(::getpid()));
  BoxedChild child;
  ASSERT_TRUE(child.ready());
  EXPECT_FALSE(same_netns(child.pid()));
  pid_t gone = ::fork();
  if (gone == 0) _exit(0);
  ::waitpid(gone, nullptr, 0);
  EXPECT_FALSE(same_netns(gone));
  EXPECT_FALSE(enter_netns_of(gone));
  EXPECT_FALSE(listen_in_netns(gone, 0));
}

TEST(Netns, NetnsSocketsMakesSocketsThatReachTheBox) {
  BoxedChild child;
  ASSERT_TRUE(child.ready());
  int port = child.listen_somewhere();
  ASSERT_GT(port, 0);
  auto sockets = NetnsSockets::start(child.pid());
  ASSERT_TRUE(sockets) << sockets.error().message;
  for (int i = 0; i < 3; ++i) {
    auto fd = (*sockets)->tcp_socket();
    ASSERT_TRUE(fd) << fd.error().message;
    EXPECT_TRUE(connects_to_loopback(std::move(*fd), port));
  }
  EXPECT_FALSE(same_netns(child.pid()));
}

TEST(Netns, NetnsSocketsFailsForAGoneProcess) {
  pid_t gone = ::fork();
  if (gone == 0) _exit(0);
  ::waitpid(gone, nullptr, 0);
  auto sockets = NetnsSockets::start(gone);
  ASSERT_FALSE(sockets);
  EXPECT_NE(sockets.error().message.find(std::to_string(gone)), std::string::npos)
      << sockets.error().message;
}

}  // namespace
}  // namespace kumo::executor

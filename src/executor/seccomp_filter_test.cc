#include "executor/seccomp_filter.h"

#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/io_uring.h>
#include <linux/keyctl.h>
#include <linux/netlink.h>
#include <linux/perf_event.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "common/ids.h"
#include "executor/sandbox.h"

namespace kumo::executor {
namespace {

namespace fs = std::filesystem;

// Exit codes of a test child that never got to run its body.
constexpr int kSetupFailed = 250;
constexpr int kInstallFailed = 251;

// What a body returns: 0 when the call worked, else the errno it failed with.
int result_of(long rc) { return rc == -1 ? errno : 0; }

// Waits for `pid`: its exit code, or minus the signal that killed it.
int wait_for(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1000;
  return WIFSIGNALED(status) ? -WTERMSIG(status) : WEXITSTATUS(status);
}

// Every test child first gets mount and UTS namespaces of its own (so a mount or a
// sethostname that the filter fails to stop changes nothing outside), then the filter.
class SeccompFilterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto built = SeccompFilter::build();
    ASSERT_TRUE(built.has_value()) << built.error().message;
    filter_.emplace(std::move(*built));
  }
  void SetUp() override {
    if (geteuid() != 0) {
      GTEST_SKIP() << "needs root: the calls the filter denies must work without it";
    }
    // Each call runs in a child with mount and UTS namespaces of its own, which a chroot,
    // say, forbids; the filter is only used inside the box, which needs the same.
    if (!sandbox_unavailable_reason().empty()) {
      GTEST_SKIP() << "no namespaces here: " << sandbox_unavailable_reason();
    }
    dir_ = fs::temp_directory_path() / ("kumo_seccomp_" + new_short_id());
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }

  // Runs `body` in a forked child, under the filter when `filtered`; see wait_for().
  static int run(bool filtered, const std::function<int()>& body) {
    pid_t pid = fork();
    if (pid == 0) {
      if (unshare(CLONE_NEWNS | CLONE_NEWUTS) != 0 ||
          mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
        _exit(kSetupFailed);
      }
      if (filtered && filter_->install() != nullptr) _exit(kInstallFailed);
      _exit(body());
    }
    return wait_for(pid);
  }

  // The call works (or fails for a reason of its own) without the filter; with it, `error`.
  static void expect_denied(const std::function<int()>& body, int error = EPERM) {
    int without = run(false, body);
    EXPECT_NE(without, error) << "without the filter";
    EXPECT_GE(without, 0) << "without the filter";
    EXPECT_LT(without, kSetupFailed) << "without the filter";
    EXPECT_EQ(run(true, body), error) << "with the filter";
  }
  static void expect_allowed(const std::function<int()>& body) { EXPECT_EQ(run(true, body), 0); }

  static std::optional<SeccompFilter> filter_;
  fs::path dir_;
};

std::optional<SeccompFilter> SeccompFilterTest::filter_;

TEST_F(SeccompFilterTest, BuildsAProgramTheKernelAccepts) {
  EXPECT_GT(filter_->program().size(), 10u);
  EXPECT_EQ(run(true, [] { return 0; }), 0);
}

TEST_F(SeccompFilterTest, MountFailsWithEperm) {
  std::string target = dir_.string();
  expect_denied([&] { return result_of(mount("none", target.c_str(), "tmpfs", 0, "size=1m")); });
}

TEST_F(SeccompFilterTest, UnshareOfAUserNamespaceFailsWithEperm) {
  expect_denied([] { return result_of(unshare(CLONE_NEWUSER)); });
}

TEST_F(SeccompFilterTest, CloneWithANewNetworkNamespaceFailsWithEperm) {
  expect_denied([] {
    long pid = syscall(SYS_clone, CLONE_NEWNET | SIGCHLD, nullptr, nullptr, nullptr, nullptr);
    if (pid == 0) _exit(0);
    if (pid < 0) return errno;
    return wait_for(static_cast<pid_t>(pid));
  });
}

TEST_F(SeccompFilterTest, SetnsFailsWithEperm) {
  expect_denied([] {
    int fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 100;
    return result_of(setns(fd, CLONE_NEWNET));
  });
}

// The target is a child of the caller (attaching to the test runner itself would stop it
// if the filter failed to deny).
TEST_F(SeccompFilterTest, PtraceAttachFailsWithEperm) {
  expect_denied([] {
    pid_t target = fork();
    if (target == 0) {
      for (;;) pause();
    }
    int result = result_of(ptrace(PTRACE_ATTACH, target, nullptr, nullptr));
    kill(target, SIGKILL);
    wait_for(target);
    return result;
  });
}

TEST_F(SeccompFilterTest, RawInetSocketsFailWithEpermWhateverFlagsAreOred) {
  expect_denied([] { return result_of(socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP)); });
  expect_denied(
      [] { return result_of(socket(AF_INET6, SOCK_RAW | SOCK_NONBLOCK, IPPROTO_ICMPV6)); });
  expect_denied([] { return result_of(socket(AF_INET, SOCK_PACKET, htons(ETH_P_ALL))); });
}

TEST_F(SeccompFilterTest, PacketSocketsFailWithEperm) {
  expect_denied([] { return result_of(socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL))); });
  expect_denied([] { return result_of(socket(AF_PACKET, SOCK_DGRAM, htons(ETH_P_ALL))); });
}

// The kernel reads the domain as an int; bits above it must not hide AF_PACKET.
TEST_F(SeccompFilterTest, UpperRegisterBitsDoNotHideADeniedArgument) {
  expect_denied([] {
    uint64_t domain = (uint64_t{1} << 32) | AF_PACKET;
    return result_of(syscall(SYS_socket, domain, SOCK_RAW, htons(ETH_P_ALL)));
  });
}

TEST_F(SeccompFilterTest, AuditNetlinkSocketFailsWithEperm) {
  expect_denied([] { return result_of(socket(AF_NETLINK, SOCK_RAW, NETLINK_AUDIT)); });
}

TEST_F(SeccompFilterTest, SethostnameFailsWithEperm) {
  expect_denied([] { return result_of(sethostname("kumo-seccomp", 12)); });
}

TEST_F(SeccompFilterTest, KeyctlFailsWithEperm) {
  expect_denied([] {
    return result_of(syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 1));
  });
}

// A zeroed map description: the kernel rejects it (EINVAL) when bpf() is reachable.
TEST_F(SeccompFilterTest, BpfFailsWithEperm) {
  expect_denied([] {
    bpf_attr attr{};
    return result_of(syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof(attr)));
  });
}

TEST_F(SeccompFilterTest, PerfEventOpenFailsWithEperm) {
  expect_denied([] {
    perf_event_attr attr{};
    attr.size = sizeof(attr);
    attr.type = PERF_TYPE_SOFTWARE;
    attr.config = PERF_COUNT_SW_DUMMY;
    return result_of(syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0));
  });
}

// An empty image: the kernel rejects it (ENOEXEC) once past the permission checks.
TEST_F(SeccompFilterTest, ModuleLoadingFailsWithEperm) {
  expect_denied([] { return result_of(syscall(SYS_init_module, "", 0, "")); });
  expect_denied([] { return result_of(syscall(SYS_finit_module, -1, "", 0)); });
}

// Without the magic numbers the kernel answers EINVAL instead of rebooting.
TEST_F(SeccompFilterTest, RebootFailsWithEperm) {
  expect_denied([] { return result_of(syscall(SYS_reboot, 0, 0, 0, nullptr)); });
}

TEST_F(SeccompFilterTest, IoUringFailsWithEperm) {
  expect_denied([] {
    io_uring_params params{};
    return result_of(syscall(SYS_io_uring_setup, 1, &params));
  });
}

TEST_F(SeccompFilterTest, DeviceNodesCannotBeMadeButFifosCan) {
  std::string chr = (dir_ / "null").string();
  std::string blk = (dir_ / "loop").string();
  std::string fifo = (dir_ / "fifo").string();
  auto make = [](const std::string& path, mode_t mode, dev_t dev) {
    int result = result_of(mknod(path.c_str(), mode, dev));
    unlink(path.c_str());
    return result;
  };
  expect_denied([&] { return make(chr, S_IFCHR | 0600, makedev(1, 3)); });
  expect_denied([&] { return make(blk, S_IFBLK | 0600, makedev(7, 0)); });
  expect_denied([&] {
    int result = result_of(mknodat(AT_FDCWD, chr.c_str(), S_IFCHR | 0600, makedev(1, 3)));
    unlink(chr.c_str());
    return result;
  });
  expect_allowed([&] { return make(fifo, S_IFIFO | 0600, 0); });
}

TEST_F(SeccompFilterTest, PersonalityOnlyAllowsTheDefaultAndTheQuery) {
  expect_denied([] { return result_of(personality(ADDR_NO_RANDOMIZE)); });
  expect_denied([] { return result_of(personality(PER_LINUX32)); });
  expect_denied([] {
    return result_of(syscall(SYS_personality, (uint64_t{0xffffffff} << 32) | READ_IMPLIES_EXEC));
  });
  expect_allowed([] { return result_of(personality(0xffffffff)); });
  expect_allowed([] { return result_of(syscall(SYS_personality, ~uint64_t{0})); });
  expect_allowed([] { return result_of(personality(PER_LINUX)); });
}

// clone3's flags sit in memory the filter cannot read, so it reports ENOSYS and glibc falls
// back to clone.
TEST_F(SeccompFilterTest, Clone3FailsWithEnosys) {
  expect_denied(
      [] {
        uint64_t args[8] = {};  // struct clone_args, version 0: exit_signal is the 5th field
        args[4] = SIGCHLD;
        long pid = syscall(SYS_clone3, args, sizeof(args));
        if (pid == 0) _exit(0);
        if (pid < 0) return errno;
        return wait_for(static_cast<pid_t>(pid));
      },
      ENOSYS);
}

TEST_F(SeccompFilterTest, ForkAndThreadsStillWork) {
  expect_allowed([] {
    pid_t pid = fork();
    if (pid == 0) _exit(7);
    return pid > 0 && wait_for(pid) == 7 ? 0 : 1;
  });
  expect_allowed([] {
    std::atomic<bool> ran = false;
    std::thread([&] { ran = true; }).join();
    return ran ? 0 : 1;
  });
}

TEST_F(SeccompFilterTest, FilterIsInheritedByForkedChildren) {
  expect_denied([] {
    pid_t pid = fork();
    if (pid == 0) _exit(result_of(unshare(CLONE_NEWUTS)));
    return wait_for(pid);
  });
}

TEST_F(SeccompFilterTest, OrdinarySocketsStillWork) {
  expect_allowed([] {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return errno;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return errno;
    return result_of(listen(fd, 1));
  });
  expect_allowed([] { return result_of(socket(AF_INET6, SOCK_DGRAM, 0)); });
  expect_allowed([] { return result_of(socket(AF_UNIX, SOCK_STREAM, 0)); });
  expect_allowed([] { return result_of(socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE)); });
  expect_allowed([] {
    ifaddrs* list = nullptr;
    if (getifaddrs(&list) != 0) return errno;
    freeifaddrs(list);
    return 0;
  });
}

TEST_F(SeccompFilterTest, MemoryMappingStillWorks) {
  expect_allowed([] {
    void* p = mmap(nullptr, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return errno;
    static_cast<char*>(p)[4096] = 1;
    if (mprotect(p, 1 << 20, PROT_READ) != 0) return errno;
    return result_of(munmap(p, 1 << 20));
  });
}

TEST_F(SeccompFilterTest, ExecStillWorks) {
  expect_allowed([] {
    execl("/bin/true", "true", nullptr);
    return errno;
  });
}

#if defined(__x86_64__)
// i386 system calls (int 0x80) are of another architecture: the filter kills rather than
// letting them past the native rules.
TEST_F(SeccompFilterTest, ForeignArchitectureSystemCallsKillTheProcess) {
  EXPECT_EQ(run(true,
                [] {
                  long ret = 20;  // i386 getpid
                  asm volatile("int $0x80" : "+a"(ret) : : "memory");
                  return 0;
                }),
            -SIGSYS);
  EXPECT_EQ(run(true, [] { return result_of(syscall(0x40000000 | SYS_getpid)); }), -SIGSYS);
}
#endif

// An ordinary library that probes (numpy, threads, fork) starts under the filter, and the
// filter survives execve: python's own unshare attempt fails with EPERM.
TEST_F(SeccompFilterTest, PythonWithNumpyRunsUnderTheFilter) {
  static const char* kScript = R"(
import ctypes, errno, os, threading
import numpy
assert numpy.arange(10).sum() == 45
box = []
t = threading.Thread(target=lambda: box.append(1)); t.start(); t.join()
assert box == [1]
pid = os.fork()
if pid == 0:
    os._exit(0)
assert os.waitpid(pid, 0)[1] == 0
libc = ctypes.CDLL(None, use_errno=True)
assert libc.unshare(0x04000000) == -1 and ctypes.get_errno() == errno.EPERM
print("ok")
)";
  expect_allowed([] {
    execl("/usr/bin/python3", "python3", "-c", kScript, nullptr);
    return errno;
  });
}

}  // namespace
}  // namespace kumo::executor

#include "executor/seccomp_filter.h"

#include <errno.h>
#include <linux/netlink.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "executor/unique_fd.h"

namespace kumo::executor {
namespace {

// Denied outright, whatever their arguments. A name that does not exist on the native
// architecture (umount on x86_64, iopl off x86) is a pseudo-syscall to libseccomp, which
// leaves it out of the program.
// clang-format off
constexpr const char* kDenied[] = {
    "mount", "umount", "umount2", "pivot_root", "chroot", "fsopen", "fsconfig", "fsmount",
    "move_mount", "open_tree", "fspick", "mount_setattr",
    "ptrace", "process_vm_readv", "process_vm_writev", "process_madvise", "pidfd_getfd",
    "kcmp",
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "bpf",
    "perf_event_open", "userfaultfd", "lookup_dcookie", "syslog", "acct", "quotactl",
    "quotactl_fd", "reboot", "swapon", "swapoff", "iopl", "ioperm",
    "io_uring_setup", "io_uring_enter", "io_uring_register",
    "keyctl", "add_key", "request_key",
    "setns", "unshare", "sethostname", "setdomainname",
    "settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
    "open_by_handle_at", "name_to_handle_at",
};
// clang-format on

// clang-format off
constexpr uint32_t kNewNamespaceFlags[] = {
    CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET,
    CLONE_NEWCGROUP,
    // In clone()'s flags this bit lies in the exit-signal byte, where no valid signal sets
    // it; CLONE_NEWTIME itself only reaches the kernel through unshare and clone3.
    CLONE_NEWTIME,
};
// clang-format on

constexpr uint32_t kSocketTypeMask = 0xf;  // the kernel's SOCK_TYPE_MASK

using Context = std::unique_ptr<void, decltype(&seccomp_release)>;

// (arg & mask) == value, on the low 32 bits only: the kernel reads these arguments as int
// or unsigned int, so the upper half of the register is ignored here too.
scmp_arg_cmp masked_eq(unsigned arg, uint32_t mask, uint32_t value) {
  return scmp_arg_cmp{arg, SCMP_CMP_MASKED_EQ, mask, value};
}
scmp_arg_cmp eq(unsigned arg, uint32_t value) { return masked_eq(arg, 0xffffffff, value); }

Result<void> deny(const Context& ctx, const char* name, std::vector<scmp_arg_cmp> when = {},
                  int error = EPERM) {
  int nr = seccomp_syscall_resolve_name(name);
  if (nr == __NR_SCMP_ERROR) {
    return make_error(ErrorCode::kInternal,
                      std::string("seccomp: libseccomp does not know the system call ") + name);
  }
  int rc = seccomp_rule_add_array(ctx.get(), SCMP_ACT_ERRNO(error), nr,
                                  static_cast<unsigned>(when.size()), when.data());
  if (rc != 0) {
    return make_error(ErrorCode::kInternal, std::string("seccomp: cannot add the rule for ") +
                                                name + ": " + std::strerror(-rc));
  }
  return {};
}

Result<void> deny_all(const Context& ctx, const char* name,
                      const std::vector<std::vector<scmp_arg_cmp>>& rules) {
  for (const auto& when : rules) {
    if (auto r = deny(ctx, name, when); !r) return r;
  }
  return {};
}

Result<void> add_namespace_rules(const Context& ctx) {
  std::vector<std::vector<scmp_arg_cmp>> clone_rules;
  for (uint32_t flag : kNewNamespaceFlags) clone_rules.push_back({masked_eq(0, flag, flag)});
  if (auto r = deny_all(ctx, "clone", clone_rules); !r) return r;
  return deny(ctx, "clone3", {}, ENOSYS);
}

// personality(p) is allowed for p == 0 and p == 0xffffffff, that is when all 32 bits are
// equal. p is anything else exactly when some bit i differs from bit 0: two rules per bit.
Result<void> add_personality_rules(const Context& ctx) {
  std::vector<std::vector<scmp_arg_cmp>> rules;
  for (int i = 1; i < 32; ++i) {
    uint32_t pair = (1u << i) | 1u;
    rules.push_back({masked_eq(0, pair, 1u << i)});
    rules.push_back({masked_eq(0, pair, 1u)});
  }
  return deny_all(ctx, "personality", rules);
}

Result<void> add_mknod_rules(const Context& ctx) {
  // mknod(path, mode, dev) and mknodat(dirfd, path, mode, dev).
  for (auto [name, mode_arg] : {std::pair{"mknod", 1u}, std::pair{"mknodat", 2u}}) {
    auto r =
        deny_all(ctx, name,
                 {{masked_eq(mode_arg, S_IFMT, S_IFCHR)}, {masked_eq(mode_arg, S_IFMT, S_IFBLK)}});
    if (!r) return r;
  }
  return {};
}

// socket(domain, type, protocol); `type` carries SOCK_CLOEXEC/SOCK_NONBLOCK above its
// low bits. (AF_INET, SOCK_PACKET) is the kernel's obsolete spelling of a packet socket.
Result<void> add_socket_rules(const Context& ctx) {
  return deny_all(ctx, "socket",
                  {{eq(0, AF_PACKET)},
                   {eq(0, AF_INET), masked_eq(1, kSocketTypeMask, SOCK_RAW)},
                   {eq(0, AF_INET), masked_eq(1, kSocketTypeMask, SOCK_PACKET)},
                   {eq(0, AF_INET6), masked_eq(1, kSocketTypeMask, SOCK_RAW)},
                   {eq(0, AF_NETLINK), eq(2, NETLINK_AUDIT)}});
}

Result<void> add_rules(const Context& ctx) {
  for (const char* name : kDenied) {
    if (auto r = deny(ctx, name); !r) return r;
  }
  for (auto add : {add_namespace_rules, add_personality_rules, add_mknod_rules, add_socket_rules}) {
    if (auto r = add(ctx); !r) return r;
  }
  return {};
}

// libseccomp 2.5 exports only to a file descriptor; a memfd keeps it off the disk.
Result<std::vector<sock_filter>> export_program(const Context& ctx) {
  UniqueFd fd(memfd_create("kumo-seccomp", MFD_CLOEXEC));
  if (!fd.valid()) {
    return make_error(ErrorCode::kInternal,
                      std::string("seccomp: memfd_create: ") + std::strerror(errno));
  }
  if (int rc = seccomp_export_bpf(ctx.get(), fd.get()); rc != 0) {
    return make_error(ErrorCode::kInternal,
                      std::string("seccomp: cannot export the filter: ") + std::strerror(-rc));
  }
  struct stat st {};
  if (fstat(fd.get(), &st) != 0 || st.st_size <= 0 || st.st_size % sizeof(sock_filter) != 0 ||
      st.st_size / sizeof(sock_filter) > BPF_MAXINSNS) {
    return make_error(ErrorCode::kInternal, "seccomp: the exported filter has a bad size");
  }
  std::vector<sock_filter> program(st.st_size / sizeof(sock_filter));
  if (pread(fd.get(), program.data(), st.st_size, 0) != st.st_size) {
    return make_error(ErrorCode::kInternal, "seccomp: cannot read the exported filter back");
  }
  return program;
}

}  // namespace

Result<SeccompFilter> SeccompFilter::build() {
  Context ctx(seccomp_init(SCMP_ACT_ALLOW), &seccomp_release);
  if (!ctx) return make_error(ErrorCode::kInternal, "seccomp: seccomp_init failed");
  // A system call of a foreign ABI (i386's int 0x80, x32) cannot be matched by the native
  // rules, so it kills; and a binary tree keeps the common (allowed) path short.
  if (seccomp_attr_set(ctx.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS) != 0 ||
      seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_OPTIMIZE, 2) != 0) {
    return make_error(ErrorCode::kInternal, "seccomp: cannot set the filter's attributes");
  }
  if (auto r = add_rules(ctx); !r) return r.error();
  auto program = export_program(ctx);
  if (!program) return program.error();
  return SeccompFilter(std::move(*program));
}

const char* SeccompFilter::install() const {
  sock_fprog prog{static_cast<unsigned short>(program_.size()),
                  const_cast<sock_filter*>(program_.data())};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return "prctl(PR_SET_NO_NEW_PRIVS)";
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) {
    return "seccomp(SECCOMP_SET_MODE_FILTER)";
  }
  return nullptr;
}

}  // namespace kumo::executor

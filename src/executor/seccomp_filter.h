// SeccompFilter: the system-call filter every sandboxed instance (and zygote template) runs
// under, so that a function cannot use the kernel interfaces it never needs even where the
// other layers of the box (namespaces, no capabilities, a non-root uid) leave a gap.
//
// What it does: every system call is allowed except these, which fail with EPERM:
//   - mounts and roots: mount, umount2, pivot_root, chroot, fsopen, fsconfig, fsmount,
//     move_mount, open_tree, fspick, mount_setattr;
//   - other processes: ptrace, process_vm_readv/writev, process_madvise, pidfd_getfd, kcmp;
//   - the kernel: kexec_load, kexec_file_load, init_module, finit_module, delete_module,
//     bpf, perf_event_open, userfaultfd, lookup_dcookie, syslog, acct, quotactl(_fd),
//     reboot, swapon, swapoff, iopl, ioperm, and io_uring (whose requests seccomp never
//     sees, so it would get around the socket rules below);
//   - keys: keyctl, add_key, request_key;
//   - namespaces and names: setns, unshare, sethostname, setdomainname, and clone with any
//     CLONE_NEW* flag (so a plain fork or a thread still works);
//   - clocks: settimeofday, clock_settime, clock_adjtime, adjtimex;
//   - file handles: open_by_handle_at, name_to_handle_at;
//   - device nodes: mknod/mknodat of a character or block device (FIFOs and sockets stay);
//   - personality() with anything but 0 (PER_LINUX) or 0xffffffff (the query);
//   - sockets: AF_PACKET; SOCK_RAW (and the obsolete SOCK_PACKET) for AF_INET and AF_INET6,
//     whatever SOCK_CLOEXEC/SOCK_NONBLOCK are or'ed in; AF_NETLINK with NETLINK_AUDIT.
//     NETLINK_ROUTE and the other netlink families stay allowed (getifaddrs needs ROUTE).
// clone3 fails with ENOSYS instead, since its flags sit in memory a filter cannot read:
// glibc then falls back to clone, whose flags the filter checks.
// Denials are EPERM, never a kill, so libraries that probe for a feature keep working.
// Arguments are compared on their low 32 bits, as the kernel reads them, so junk in the
// upper half of a register cannot slip a denied value past the filter.
//
// Architectures: the filter holds the native one only (x86_64 here); a system call of any
// other ABI (i386 through `int 0x80`, x32 with __X32_SYSCALL_BIT) kills the process
// (SCMP_ACT_KILL_PROCESS, libseccomp's bad-arch action), so none bypasses the rules.
//
// Lifetime: build() runs once in the parent (it allocates and calls libseccomp); the value is
// immutable afterwards, and install() may be called from any number of forked children at
// once. The filter is inherited across fork and execve, and can never be removed: a zygote's
// forked instances run under their template's filter.
#pragma once

#include <linux/filter.h>

#include <utility>
#include <vector>

#include "common/result.h"

namespace kumo::executor {

class SeccompFilter {
 public:
  // Compiles the rules above into a BPF program with libseccomp. Fails (kInternal) only if
  // libseccomp does.
  static Result<SeccompFilter> build();

  // Sets no_new_privs and loads the program into the calling thread. Async-signal-safe: for
  // the child between fork and exec. Returns nullptr on success, or the name of the step that
  // failed with errno set ("prctl(PR_SET_NO_NEW_PRIVS)", "seccomp(SECCOMP_SET_MODE_FILTER)").
  // Call it last before execve: from then on mount, unshare, setns and the like fail.
  const char* install() const;

  // The classic BPF program itself, for a process that loads it without this class (a
  // zygote's shim could load it in each forked instance, after that instance's own setup).
  const std::vector<sock_filter>& program() const { return program_; }

 private:
  explicit SeccompFilter(std::vector<sock_filter> program) : program_(std::move(program)) {}

  std::vector<sock_filter> program_;
};

}  // namespace kumo::executor

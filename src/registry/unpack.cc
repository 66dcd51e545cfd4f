// unpack(): extraction of untrusted packages. Why it is shaped this way:
// - Files are written with our own POSIX calls, never archive_write_disk, so no archive field
//   (owner, absolute path, device number) reaches the filesystem unchecked.
// - Symlinks are created only after every file and folder is written, and no write or mkdir
//   ever passes through an existing symlink, so an entry cannot be redirected out of the tree.
// - Each symlink is then resolved hop by hop on disk, so a chain of individually harmless
//   links (a -> b/.., b -> ..) cannot point out either.
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <filesystem>
#include <vector>

#include "common/ids.h"
#include "registry/archive_reader.h"
#include "registry/package.h"

namespace kumo::registry {
namespace {

namespace fs = std::filesystem;
using Parts = std::vector<std::string>;

constexpr int kMaxLinkHops = 40;

Error bad_entry(std::string_view entry, std::string_view why) {
  return make_error(ErrorCode::kInvalidArgument, fmt::format("package entry '{}': {}", entry, why));
}

std::deque<std::string> split(std::string_view path) {
  std::deque<std::string> out;
  while (!path.empty()) {
    size_t slash = path.find('/');
    std::string_view part = path.substr(0, slash);
    if (!part.empty() && part != ".") out.emplace_back(part);
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

fs::path join(const fs::path& root, const Parts& parts, size_t count) {
  fs::path p = root;
  for (size_t i = 0; i < count; ++i) p /= parts[i];
  return p;
}

std::string mib(uint64_t bytes) { return fmt::format("{} MiB", bytes >> 20); }

class Extractor {
 public:
  Extractor(fs::path root, UnpackLimits limits) : root_(std::move(root)), limits_(limits) {}

  Result<void> add(archive* a, archive_entry* e);
  // Creates the symlinks recorded by add() and checks where each one leads.
  Result<void> finish();

 private:
  Result<Parts> safe_path(std::string_view raw);
  Result<void> make_parents(const Parts& parts, size_t count, std::string_view entry);
  Result<void> write_file(archive* a, archive_entry* e, const Parts& parts, std::string_view raw);
  Result<void> record_link(archive_entry* e, const Parts& parts, std::string_view raw);
  Result<void> check_link_target(const Parts& link, std::string_view raw);

  struct Link {
    Parts parts;
    std::string target;
    std::string raw;
  };
  fs::path root_;
  UnpackLimits limits_;
  uint64_t bytes_ = 0;
  size_t entries_ = 0;
  std::vector<Link> links_;
};

Result<Parts> Extractor::safe_path(std::string_view raw) {
  if (raw.empty()) return bad_entry(raw, "has no name");
  if (raw.front() == '/') return bad_entry(raw, "absolute paths are not allowed");
  Parts parts;
  for (auto& part : split(raw)) {
    if (part == "..") return bad_entry(raw, "paths with '..' are not allowed");
    parts.push_back(std::move(part));
  }
  return parts;
}

// Creates the first `count` components as real folders; refuses to pass through a symlink
// or a file.
Result<void> Extractor::make_parents(const Parts& parts, size_t count, std::string_view entry) {
  for (size_t i = 1; i <= count; ++i) {
    fs::path p = join(root_, parts, i);
    struct stat st {};
    if (::lstat(p.c_str(), &st) == 0) {
      if (S_ISDIR(st.st_mode)) continue;
      return bad_entry(entry, fmt::format("'{}' is not a folder", parts[i - 1]));
    }
    if (::mkdir(p.c_str(), 0755) != 0) {
      return bad_entry(entry, fmt::format("cannot create folder: {}", std::strerror(errno)));
    }
  }
  return {};
}

Result<void> Extractor::add(archive* a, archive_entry* e) {
  if (++entries_ > limits_.max_entries) {
    return make_error(ErrorCode::kTooLarge,
                      fmt::format("package has more than {} entries", limits_.max_entries));
  }
  const char* name = archive_entry_pathname(e);
  std::string raw = name ? name : "";
  auto parts = safe_path(raw);
  if (!parts) return parts.error();
  if (archive_entry_hardlink(e) != nullptr) return bad_entry(raw, "hard links are not allowed");
  switch (archive_entry_filetype(e)) {
    case AE_IFDIR:
      return make_parents(*parts, parts->size(), raw);
    case AE_IFREG:
      if (parts->empty()) return bad_entry(raw, "a file needs a name");
      return write_file(a, e, *parts, raw);
    case AE_IFLNK:
      if (parts->empty()) return bad_entry(raw, "a link needs a name");
      return record_link(e, *parts, raw);
    default:
      return bad_entry(raw,
                       "devices, fifos and sockets are not allowed; only files, folders "
                       "and symlinks");
  }
}

Result<void> write_all(int fd, const char* data, size_t len) {
  while (len > 0) {
    ssize_t n = ::write(fd, data, len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return make_error(ErrorCode::kInternal, std::strerror(errno));
    data += n;
    len -= static_cast<size_t>(n);
  }
  return {};
}

Result<void> Extractor::write_file(archive* a, archive_entry* e, const Parts& parts,
                                   std::string_view raw) {
  Error too_large = make_error(ErrorCode::kTooLarge,
                               fmt::format("package unpacks to more than {}; that is the limit",
                                           mib(limits_.max_total_bytes)));
  la_int64_t declared = archive_entry_size_is_set(e) ? archive_entry_size(e) : 0;
  if (declared < 0 || bytes_ + static_cast<uint64_t>(declared) > limits_.max_total_bytes) {
    return too_large;
  }
  if (auto r = make_parents(parts, parts.size() - 1, raw); !r) return r;
  fs::path p = join(root_, parts, parts.size());
  mode_t mode = (archive_entry_perm(e) & 0111) ? 0755 : 0644;
  int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) return bad_entry(raw, fmt::format("cannot create file: {}", std::strerror(errno)));
  std::vector<char> buf(64 << 10);
  Result<void> r;
  for (;;) {
    la_ssize_t n = archive_read_data(a, buf.data(), buf.size());
    if (n == 0) break;
    if (n < 0) {
      r = bad_entry(raw, fmt::format("corrupt data: {}", archive_error_string(a)));
      break;
    }
    bytes_ += static_cast<uint64_t>(n);
    if (bytes_ > limits_.max_total_bytes) {
      r = too_large;
      break;
    }
    r = write_all(fd, buf.data(), static_cast<size_t>(n));
    if (!r) break;
  }
  if (::close(fd) != 0 && r) r = make_error(ErrorCode::kInternal, std::strerror(errno));
  return r;
}

Result<void> Extractor::record_link(archive_entry* e, const Parts& parts, std::string_view raw) {
  const char* t = archive_entry_symlink(e);
  std::string target = t ? t : "";
  if (target.empty()) return bad_entry(raw, "symlink has no target");
  if (target.front() == '/') {
    return bad_entry(raw, fmt::format("symlink to the absolute path '{}' is not allowed", target));
  }
  // A first, purely lexical check gives the clearest message for the common case.
  size_t depth = parts.size() - 1;
  for (const auto& part : split(target)) {
    if (part != "..") {
      ++depth;
    } else if (depth-- == 0) {
      return bad_entry(raw, fmt::format("symlink to '{}' points outside the package", target));
    }
  }
  links_.push_back({parts, std::move(target), std::string(raw)});
  return {};
}

// Follows the link component by component on disk, never leaving root_.
Result<void> Extractor::check_link_target(const Parts& link, std::string_view raw) {
  Parts cur(link.begin(), link.end() - 1);
  std::error_code ec;
  std::deque<std::string> todo =
      split(fs::read_symlink(join(root_, link, link.size()), ec).string());
  if (ec) return bad_entry(raw, "cannot read the symlink back");
  int hops = 0;
  while (!todo.empty()) {
    std::string part = std::move(todo.front());
    todo.pop_front();
    if (part == "..") {
      if (cur.empty()) return bad_entry(raw, "symlink resolves to a place outside the package");
      cur.pop_back();
      continue;
    }
    cur.push_back(part);
    fs::path p = join(root_, cur, cur.size());
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) continue;
    if (++hops > kMaxLinkHops) return bad_entry(raw, "too many levels of symlinks");
    std::string next = fs::read_symlink(p, ec).string();
    if (ec || next.empty() || next.front() == '/') {
      return bad_entry(raw, "symlink resolves to a place outside the package");
    }
    cur.pop_back();
    auto more = split(next);
    todo.insert(todo.begin(), more.begin(), more.end());
  }
  return {};
}

Result<void> Extractor::finish() {
  for (const Link& l : links_) {
    if (auto r = make_parents(l.parts, l.parts.size() - 1, l.raw); !r) return r;
    fs::path p = join(root_, l.parts, l.parts.size());
    if (::symlink(l.target.c_str(), p.c_str()) != 0) {
      return bad_entry(l.raw, fmt::format("cannot create symlink: {}", std::strerror(errno)));
    }
  }
  for (const Link& l : links_) {
    if (auto r = check_link_target(l.parts, l.raw); !r) return r;
  }
  return {};
}

Result<void> extract_all(std::string_view targz, const fs::path& root, UnpackLimits limits) {
  auto a = internal::open_targz(targz);
  if (!a) return a.error();
  Extractor ex(root, limits);
  for (;;) {
    auto entry = internal::next_entry(a->get());
    if (!entry) return entry.error();
    if (*entry == nullptr) break;
    if (auto r = ex.add(a->get(), *entry); !r) return r;
  }
  return ex.finish();
}

}  // namespace

Result<void> unpack(std::string_view targz, const std::string& dest_dir, UnpackLimits limits) {
  std::error_code ec;
  fs::path dest = fs::path(dest_dir).lexically_normal();
  if (dest.filename().empty()) dest = dest.parent_path();
  if (fs::exists(fs::symlink_status(dest, ec))) {
    return make_error(ErrorCode::kConflict, fmt::format("'{}' already exists", dest.string()));
  }
  fs::path parent = dest.has_parent_path() ? dest.parent_path() : fs::path(".");
  fs::create_directories(parent, ec);
  fs::path tmp = parent / fmt::format(".{}.tmp-{}", dest.filename().string(), new_short_id());
  if (ec || ::mkdir(tmp.c_str(), 0755) != 0) {
    return make_error(ErrorCode::kInternal,
                      fmt::format("cannot create a folder in '{}'", parent.string()));
  }
  Result<void> r = extract_all(targz, tmp, limits);
  if (r && ::rename(tmp.c_str(), dest.c_str()) != 0) {
    r = make_error(ErrorCode::kConflict, fmt::format("cannot move the package into '{}': {}",
                                                     dest.string(), std::strerror(errno)));
  }
  if (!r) fs::remove_all(tmp, ec);
  return r;
}

}  // namespace kumo::registry

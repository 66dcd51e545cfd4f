#include "registry/package.h"

#include <archive.h>
#include <archive_entry.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <vector>

#include "registry/archive_reader.h"

namespace kumo::registry {
namespace internal {

Result<ArchiveReader> open_targz(std::string_view bytes) {
  // Checked up front: libarchive would otherwise also accept an uncompressed tar.
  if (bytes.size() < 2 || static_cast<unsigned char>(bytes[0]) != 0x1f ||
      static_cast<unsigned char>(bytes[1]) != 0x8b) {
    return make_error(ErrorCode::kInvalidArgument,
                      "package is not a tar.gz archive (no gzip header); build it with "
                      "`kumo deploy DIR` or `tar czf`");
  }
  ArchiveReader a(archive_read_new());
  if (!a) return make_error(ErrorCode::kInternal, "libarchive: out of memory");
  archive_read_support_filter_gzip(a.get());
  archive_read_support_format_tar(a.get());
  archive_read_support_format_gnutar(a.get());
  if (archive_read_open_memory(a.get(), bytes.data(), bytes.size()) != ARCHIVE_OK) {
    return make_error(
        ErrorCode::kInvalidArgument,
        fmt::format("package is not a valid tar.gz archive: {}", archive_error_string(a.get())));
  }
  return a;
}

Result<archive_entry*> next_entry(archive* a) {
  archive_entry* entry = nullptr;
  int rc = archive_read_next_header(a, &entry);
  if (rc == ARCHIVE_EOF) return nullptr;
  if (rc == ARCHIVE_OK || rc == ARCHIVE_WARN) return entry;
  const char* why = archive_error_string(a);
  return make_error(ErrorCode::kInvalidArgument,
                    fmt::format("package is not a valid tar.gz archive: {}", why ? why : "?"));
}

}  // namespace internal

namespace {

namespace fs = std::filesystem;

struct ArchiveWriteFree {
  void operator()(archive* a) const { archive_write_free(a); }
};
using ArchiveWriter = std::unique_ptr<archive, ArchiveWriteFree>;

struct EntryFree {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};
using Entry = std::unique_ptr<archive_entry, EntryFree>;

bool skipped_folder(const fs::path& name) {
  static const std::array<std::string, 4> kSkip = {".git", "__pycache__", "node_modules", ".kumo"};
  return std::find(kSkip.begin(), kSkip.end(), name.string()) != kSkip.end();
}

// Relative paths of everything to pack, sorted so the archive is the same every time.
Result<std::vector<fs::path>> list_entries(const fs::path& root) {
  std::error_code ec;
  std::vector<fs::path> out;
  fs::recursive_directory_iterator it(root, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    fs::file_status st = it->symlink_status(ec);
    if (ec) break;
    if (fs::is_directory(st) && skipped_folder(it->path().filename())) {
      it.disable_recursion_pending();
      continue;
    }
    out.push_back(it->path().lexically_relative(root));
  }
  if (ec) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("cannot read {}: {}", root.string(), ec.message()));
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

Result<uint64_t> folder_bytes(const std::string& dir) {
  auto entries = list_entries(dir);
  if (!entries) return entries.error();
  uint64_t total = 0;
  for (const fs::path& relative : *entries) {
    fs::path path = fs::path(dir) / relative;
    std::error_code ec;
    if (fs::is_regular_file(fs::symlink_status(path, ec))) total += fs::file_size(path, ec);
    if (ec) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("cannot read {}: {}", path.string(), ec.message()));
    }
  }
  return total;
}

namespace {

la_ssize_t append_to_string(archive*, void* out, const void* buf, size_t len) {
  static_cast<std::string*>(out)->append(static_cast<const char*>(buf), len);
  return static_cast<la_ssize_t>(len);
}

Error write_error(archive* a, const fs::path& rel) {
  const char* why = archive_error_string(a);
  return make_error(ErrorCode::kInternal,
                    fmt::format("cannot pack {}: {}", rel.string(), why ? why : "?"));
}

Result<void> write_file_data(archive* a, const fs::path& full, const fs::path& rel) {
  std::ifstream in(full, std::ios::binary);
  if (!in) {
    return make_error(ErrorCode::kInvalidArgument, fmt::format("cannot read {}", full.string()));
  }
  std::vector<char> buf(64 << 10);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    std::streamsize n = in.gcount();
    if (n > 0 && archive_write_data(a, buf.data(), static_cast<size_t>(n)) < 0) {
      return write_error(a, rel);
    }
  }
  return {};
}

// One file, folder or symlink; anything else (sockets, fifos) is left out.
Result<void> pack_one(archive* a, const fs::path& root, const fs::path& rel) {
  std::error_code ec;
  fs::path full = root / rel;
  fs::file_status st = fs::symlink_status(full, ec);
  if (ec)
    return make_error(ErrorCode::kInvalidArgument, fmt::format("cannot stat {}", rel.string()));
  Entry e(archive_entry_new());
  archive_entry_set_pathname(e.get(), rel.generic_string().c_str());
  if (fs::is_directory(st)) {
    archive_entry_set_filetype(e.get(), AE_IFDIR);
    archive_entry_set_perm(e.get(), 0755);
  } else if (fs::is_symlink(st)) {
    fs::path target = fs::read_symlink(full, ec);
    if (ec)
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("cannot read link {}", rel.string()));
    archive_entry_set_filetype(e.get(), AE_IFLNK);
    archive_entry_set_perm(e.get(), 0777);
    archive_entry_set_symlink(e.get(), target.generic_string().c_str());
  } else if (fs::is_regular_file(st)) {
    uintmax_t size = fs::file_size(full, ec);
    if (ec)
      return make_error(ErrorCode::kInvalidArgument, fmt::format("cannot stat {}", rel.string()));
    bool exec = (st.permissions() & fs::perms::owner_exec) != fs::perms::none;
    archive_entry_set_filetype(e.get(), AE_IFREG);
    archive_entry_set_perm(e.get(), exec ? 0755 : 0644);
    archive_entry_set_size(e.get(), static_cast<la_int64_t>(size));
  } else {
    return {};
  }
  if (archive_write_header(a, e.get()) != ARCHIVE_OK) return write_error(a, rel);
  if (fs::is_regular_file(st)) return write_file_data(a, full, rel);
  return {};
}

}  // namespace

Result<std::string> pack_directory(const std::string& dir) {
  std::error_code ec;
  fs::path root(dir);
  if (!fs::is_directory(root, ec)) {
    return make_error(ErrorCode::kInvalidArgument, fmt::format("'{}' is not a folder", dir));
  }
  if (!fs::is_regular_file(root / "kumo.yaml", ec)) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("'{}' has no kumo.yaml; a function folder needs one with at "
                                  "least name, runtime and handler",
                                  dir));
  }
  auto entries = list_entries(root);
  if (!entries) return entries.error();
  std::string out;
  ArchiveWriter a(archive_write_new());
  archive_write_add_filter_gzip(a.get());
  // No timestamp in the gzip header, so equal folders give equal bytes.
  archive_write_set_filter_option(a.get(), "gzip", "timestamp", nullptr);
  archive_write_set_format_pax_restricted(a.get());
  archive_write_set_bytes_in_last_block(a.get(), 1);  // no padding to a 10 KiB block
  if (archive_write_open(a.get(), &out, nullptr, append_to_string, nullptr) != ARCHIVE_OK) {
    return write_error(a.get(), root);
  }
  for (const fs::path& rel : *entries) {
    if (auto r = pack_one(a.get(), root, rel); !r) return r.error();
  }
  if (archive_write_close(a.get()) != ARCHIVE_OK) return write_error(a.get(), root);
  return out;
}

Result<std::string> read_spec_from_package(std::string_view targz, size_t max_spec_bytes) {
  auto a = internal::open_targz(targz);
  if (!a) return a.error();
  for (;;) {
    auto entry = internal::next_entry(a->get());
    if (!entry) return entry.error();
    if (*entry == nullptr) break;
    const char* raw = archive_entry_pathname(*entry);
    std::string_view path = raw ? raw : "";
    if (path != "kumo.yaml" && path != "./kumo.yaml") continue;
    if (archive_entry_filetype(*entry) != AE_IFREG) {
      return make_error(ErrorCode::kInvalidArgument, "kumo.yaml in the package is not a file");
    }
    la_int64_t size = archive_entry_size(*entry);
    if (size < 0 || static_cast<uint64_t>(size) > max_spec_bytes) {
      return make_error(
          ErrorCode::kTooLarge,
          fmt::format("kumo.yaml is {} bytes; the limit is {} bytes", size, max_spec_bytes));
    }
    std::string text(static_cast<size_t>(size), '\0');
    la_ssize_t n = archive_read_data(a->get(), text.data(), text.size());
    if (n < 0 || static_cast<size_t>(n) != text.size()) {
      return make_error(ErrorCode::kInvalidArgument, "package is corrupt: kumo.yaml is cut short");
    }
    return text;
  }
  return make_error(ErrorCode::kInvalidArgument,
                    "package has no kumo.yaml at its root; put one next to your code");
}

}  // namespace kumo::registry

// Test helpers for the registry: temporary folders and hand-built (possibly hostile) tar.gz
// archives. Test-only; not part of kumo_registry.
#pragma once

#include <archive.h>
#include <archive_entry.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/ids.h"

namespace kumo::registry::testing {

// A fresh folder under the system temp dir, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir()
      : path_(std::filesystem::temp_directory_path() / ("kumo_registry_test_" + new_short_id())) {
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

struct TestEntry {
  std::string path;
  unsigned type = AE_IFREG;  // AE_IFREG, AE_IFDIR, AE_IFLNK, AE_IFIFO, AE_IFCHR...
  std::string data;          // file content
  std::string link;          // symlink target, or hard link target when hardlink is set
  bool hardlink = false;
  unsigned perm = 0644;
};

inline TestEntry file(std::string path, std::string data, unsigned perm = 0644) {
  TestEntry e;
  e.path = std::move(path);
  e.data = std::move(data);
  e.perm = perm;
  return e;
}
inline TestEntry dir(std::string path) {
  TestEntry e;
  e.path = std::move(path);
  e.type = AE_IFDIR;
  e.perm = 0755;
  return e;
}
inline TestEntry symlink(std::string path, std::string target) {
  TestEntry e;
  e.path = std::move(path);
  e.type = AE_IFLNK;
  e.link = std::move(target);
  e.perm = 0777;
  return e;
}
inline TestEntry hardlink(std::string path, std::string target) {
  TestEntry e = file(std::move(path), "");
  e.link = std::move(target);
  e.hardlink = true;
  return e;
}
inline TestEntry special(std::string path, unsigned type) {
  TestEntry e;
  e.path = std::move(path);
  e.type = type;
  return e;
}

// tar.gz bytes holding exactly these entries, in this order, with no checks at all.
inline std::string make_targz(const std::vector<TestEntry>& entries) {
  std::string out;
  archive* a = archive_write_new();
  archive_write_add_filter_gzip(a);
  // No time in the gzip header: the same entries packed a second apart are the same bytes
  // (tests compare the sha256 of equal packages).
  archive_write_set_filter_option(a, "gzip", "timestamp", nullptr);
  archive_write_set_format_pax_restricted(a);
  auto append = [](archive*, void* o, const void* buf, size_t len) -> la_ssize_t {
    static_cast<std::string*>(o)->append(static_cast<const char*>(buf), len);
    return static_cast<la_ssize_t>(len);
  };
  archive_write_open(a, &out, nullptr, append, nullptr);
  for (const TestEntry& t : entries) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, t.path.c_str());
    archive_entry_set_filetype(e, t.type);
    archive_entry_set_perm(e, t.perm);
    if (t.hardlink) {
      archive_entry_set_hardlink(e, t.link.c_str());
    } else if (t.type == AE_IFLNK) {
      archive_entry_set_symlink(e, t.link.c_str());
    }
    archive_entry_set_size(e, t.type == AE_IFREG && !t.hardlink ? t.data.size() : 0);
    archive_write_header(a, e);
    if (!t.data.empty()) archive_write_data(a, t.data.data(), t.data.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

inline void write_file(const std::filesystem::path& p, const std::string& text) {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

}  // namespace kumo::registry::testing

// Function packages: a folder with kumo.yaml and code, carried as tar.gz bytes.
//
// pack_directory() builds the archive that `kumo deploy DIR` uploads. read_spec_from_package()
// pulls kumo.yaml out of an uploaded archive without unpacking it. unpack() extracts an
// untrusted archive safely: nothing it writes lands outside dest_dir, no link may point out of
// it, and dest_dir appears atomically (complete, or not at all). Free functions over values;
// thread-safe as long as two calls do not unpack into the same dest_dir.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace kumo::registry {

// Caps on what an archive may expand to; over either is kTooLarge.
struct UnpackLimits {
  uint64_t max_total_bytes = uint64_t{512} << 20;  // sum of the regular files' sizes
  size_t max_entries = 10000;                      // files, folders and links together
};

// The folder as tar.gz bytes: relative paths, regular files, folders and symlinks, skipping
// .git, __pycache__, node_modules and .kumo. The output is deterministic (sorted entries, no
// timestamps or owners), so the same code gives the same bytes and the same sha256.
// kInvalidArgument when `dir` is not a folder or has no kumo.yaml.
Result<std::string> pack_directory(const std::string& dir);

// The sum of the sizes of the regular files pack_directory() would pack (symlinks not
// followed, the same folders skipped), so `kumo deploy` can refuse a folder over the package
// limit before spending seconds packing it. kInvalidArgument when `dir` cannot be read.
Result<uint64_t> folder_bytes(const std::string& dir);

// The text of kumo.yaml at the archive's root ("kumo.yaml" or "./kumo.yaml").
// kInvalidArgument when the bytes are not a tar.gz or hold no kumo.yaml; kTooLarge when it
// is over max_spec_bytes.
Result<std::string> read_spec_from_package(std::string_view targz,
                                           size_t max_spec_bytes = size_t{64} << 10);

// Extracts into dest_dir, which must not exist yet (kConflict if it does). Rejects with
// kInvalidArgument, naming the entry: absolute paths, ".." components, symlinks that are
// absolute or resolve outside dest_dir, hard links, devices, fifos and sockets. On any error
// nothing is left behind: the work happens in a temporary sibling renamed into place at the end.
Result<void> unpack(std::string_view targz, const std::string& dest_dir, UnpackLimits limits = {});

}  // namespace kumo::registry

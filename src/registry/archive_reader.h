// Internal to the registry: a libarchive reader over tar.gz bytes in memory, with libarchive's
// status codes turned into Result errors. Each reader belongs to one thread.
#pragma once

#include <archive.h>
#include <archive_entry.h>

#include <memory>
#include <string_view>

#include "common/result.h"

namespace kumo::registry::internal {

struct ArchiveReadFree {
  void operator()(archive* a) const { archive_read_free(a); }
};
using ArchiveReader = std::unique_ptr<archive, ArchiveReadFree>;

// A reader for gzip-compressed tar (ustar, pax or GNU) over `bytes`, which must outlive it.
// kInvalidArgument when the bytes are not gzip.
Result<ArchiveReader> open_targz(std::string_view bytes);

// The next entry's header, or nullptr at the end. kInvalidArgument for a corrupt archive.
Result<archive_entry*> next_entry(archive* a);

}  // namespace kumo::registry::internal

// Identifiers: request ids and instance ids. Thread-safe.
#pragma once

#include <string>

namespace kumo {

// A random 128-bit id in the 8-4-4-4-12 hex form of a UUID v4, like Lambda's request ids.
std::string new_request_id();

// A short random hex id (16 characters) for instances and packages' temporary names.
std::string new_short_id();

}  // namespace kumo

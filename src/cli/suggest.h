// The nearest known word to a mistyped one, for "unknown command 'lss'; did you mean 'ls'?".
// Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kumo::cli {

// Edits (insert, delete, substitute, swap two neighbours) that turn `a` into `b`: the
// optimal string alignment distance, so "tabel" is one edit from "table".
size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `typed`, when it is close enough to be a typo: at most two edits
// and fewer edits than `typed` has letters ("a" suggests nothing). Ties go to the earlier
// candidate.
std::optional<std::string> nearest(std::string_view typed, const std::vector<std::string>& words);

}  // namespace kumo::cli

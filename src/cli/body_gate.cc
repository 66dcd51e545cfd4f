#include "cli/body_gate.h"

#include <algorithm>
#include <utility>

namespace kumo::cli {
namespace {

constexpr std::string_view kErrorPrefix = R"({"error")";

}  // namespace

BodyGate::BodyGate(Sink out) : out_(std::move(out)) {}

void BodyGate::feed(std::string_view chunk) {
  if (!holding_) {
    out_(chunk);
    return;
  }
  held_.append(chunk);
  size_t n = std::min(held_.size(), kErrorPrefix.size());
  if (std::string_view(held_).substr(0, n) == kErrorPrefix.substr(0, n)) return;
  holding_ = false;
  out_(held_);
  held_.clear();
}

std::string BodyGate::finish(bool success) {
  if (!success) return std::exchange(held_, {});
  if (!held_.empty()) out_(held_);
  held_.clear();
  return {};
}

}  // namespace kumo::cli

#include "registry/yaml_limits.h"

#include <fmt/format.h>
#include <yaml-cpp/eventhandler.h>

#include <algorithm>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace kumo::registry {
namespace {

// Thrown from inside yaml-cpp's parser to stop it at the first limit crossed; caught below.
struct OverLimit {
  std::string message;
};

// Counts the nodes and nesting of one document from its parse events, as if every alias were
// replaced by a copy of the node it names, without making the copies.
class BoundsCheck final : public YAML::EventHandler {
 public:
  explicit BoundsCheck(const YamlLimits& limits) : limits_(limits) {}

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override { leaf(mark, anchor); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                const std::string&) override {
    leaf(mark, anchor);
  }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override;
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    open(mark, anchor);
  }
  void OnSequenceEnd() override { close(); }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    open(mark, anchor);
  }
  void OnMapEnd() override { close(); }

 private:
  // A node with its aliases expanded: how many nodes, how many levels of lists and maps.
  struct Extent {
    size_t nodes = 0;
    size_t depth = 0;
  };
  struct Frame {
    YAML::anchor_t anchor;
    Extent extent;
  };

  void leaf(const YAML::Mark& mark, YAML::anchor_t anchor) {
    count(mark, 1, 0);
    attach({1, 0}, anchor);
  }
  void open(const YAML::Mark& mark, YAML::anchor_t anchor) {
    count(mark, 1, 1);
    if (anchor >= anchors_.size()) anchors_.resize(anchor + 1);
    frames_.push_back({anchor, {1, 1}});
  }
  void close() {
    Frame done = frames_.back();
    frames_.pop_back();
    attach(done.extent, done.anchor);
  }
  void count(const YAML::Mark& mark, size_t nodes, size_t depth);
  void attach(Extent extent, YAML::anchor_t anchor);

  YamlLimits limits_;
  std::vector<Frame> frames_;  // the lists and maps still open, outermost first
  // By anchor id (yaml-cpp numbers them 1, 2, ...); empty while the anchored node is open.
  std::vector<std::optional<Extent>> anchors_;
  size_t nodes_ = 0;  // in the whole document so far, aliases expanded
};

void BoundsCheck::OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) {
  if (anchor >= anchors_.size() || !anchors_[anchor]) {
    throw OverLimit{
        fmt::format("an alias at line {} names the list or map that contains it", mark.line + 1)};
  }
  Extent named = *anchors_[anchor];
  count(mark, named.nodes, named.depth);
  attach(named, YAML::NullAnchor);
}

// Adds `nodes` nested `depth` deep at the current position, and stops the parse past a limit.
void BoundsCheck::count(const YAML::Mark& mark, size_t nodes, size_t depth) {
  nodes_ += nodes;  // each term is at most max_nodes, so this cannot wrap
  if (nodes_ > limits_.max_nodes) {
    throw OverLimit{fmt::format(
        "has more than {} nodes once its aliases are expanded (line {}); the limit is {} nodes",
        limits_.max_nodes, mark.line + 1, limits_.max_nodes)};
  }
  if (frames_.size() + depth > static_cast<size_t>(limits_.max_depth)) {
    throw OverLimit{
        fmt::format("nests lists and maps more than {} deep (line {}); the limit is {} levels",
                    limits_.max_depth, mark.line + 1, limits_.max_depth)};
  }
}

void BoundsCheck::attach(Extent extent, YAML::anchor_t anchor) {
  if (anchor != YAML::NullAnchor) {
    if (anchor >= anchors_.size()) anchors_.resize(anchor + 1);
    anchors_[anchor] = extent;
  }
  if (frames_.empty()) return;
  Extent& parent = frames_.back().extent;
  parent.nodes += extent.nodes;
  parent.depth = std::max(parent.depth, extent.depth + 1);
}

Error invalid_yaml(const YAML::Exception& e) {
  return make_error(ErrorCode::kInvalidArgument,
                    fmt::format("invalid YAML at line {}, column {}: {}", e.mark.line + 1,
                                e.mark.column + 1, e.msg));
}

}  // namespace

Result<YAML::Node> load_bounded_yaml(std::string_view text, const YamlLimits& limits) {
  if (text.size() > limits.max_bytes) {
    return make_error(ErrorCode::kInvalidArgument, fmt::format("is {} bytes; the limit is {} bytes",
                                                               text.size(), limits.max_bytes));
  }
  std::string copy(text);
  try {
    std::istringstream in(copy);
    YAML::Parser parser(in);
    BoundsCheck check(limits);
    parser.HandleNextDocument(check);
    return YAML::Load(copy);
  } catch (const OverLimit& e) {
    return make_error(ErrorCode::kInvalidArgument, e.message);
  } catch (const YAML::Exception& e) {
    return invalid_yaml(e);
  }
}

}  // namespace kumo::registry

// Loading YAML from outside (a function's kumo.yaml, the server's config file) without letting
// the text decide how much memory or stack the server spends on it.
//
// yaml-cpp shares an aliased node instead of copying it, so a few hundred bytes of nested
// aliases (the "billion laughs" document) load into a small graph that explodes only when
// walked, for instance by yaml_to_json(); an alias inside its own anchor even makes a cycle.
// load_bounded_yaml() first reads the text with yaml-cpp's event parser, which expands
// nothing, and counts the nodes of the document as it would be with every alias expanded,
// and how deeply they nest. Only a document within the limits is loaded. Pure; thread-safe.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <string_view>

#include "common/result.h"

namespace kumo::registry {

struct YamlLimits {
  size_t max_bytes = size_t{64} << 10;  // the text itself
  size_t max_nodes = 10'000;  // scalars, lists and maps, counting each alias as what it names
  int max_depth = 64;         // lists and maps inside one another, aliases expanded
};

// The first document of `text`, as YAML::Load would return it. kInvalidArgument when the
// text is not YAML ("invalid YAML at line 3, column 5: ...") or exceeds a limit, with a
// message naming the limit ("expands to more than 10000 nodes through aliases; the limit is
// 10000"). Never throws.
Result<YAML::Node> load_bounded_yaml(std::string_view text, const YamlLimits& limits = {});

}  // namespace kumo::registry

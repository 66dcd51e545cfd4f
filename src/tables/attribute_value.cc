#include "tables/attribute_value.h"

#include <vector>

#include "common/check.h"

namespace kumo::tables {
namespace {

using nlohmann::json;

// One value still to convert and where its attribute value goes.
struct Pending {
  const json* in;
  json* out;
};

// Writes the attribute value of `in` into `out`; a container gets empty slots, one per child,
// and its children are queued to fill them.
void convert_one(const json& in, json& out, std::vector<Pending>& todo) {
  switch (in.type()) {
    case json::value_t::string:
      out = {{"S", in}};
      return;
    case json::value_t::boolean:
      out = {{"BOOL", in}};
      return;
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float:
      out = {{"N", in.dump()}};
      return;
    case json::value_t::object: {
      out = {{"M", json::object()}};
      json& map = out["M"];
      for (const auto& [name, value] : in.items()) todo.push_back({&value, &map[name]});
      return;
    }
    case json::value_t::array: {
      out = {{"L", json::array()}};
      auto& list = out["L"].get_ref<json::array_t&>();
      list.resize(in.size());  // sized once: the slots' addresses stay valid
      for (size_t i = 0; i < in.size(); ++i) todo.push_back({&in[i], &list[i]});
      return;
    }
    case json::value_t::null:
    case json::value_t::discarded:
    case json::value_t::binary:
      break;
  }
  out = {{"NULL", true}};
}

}  // namespace

// Without recursion, as one worklist: stored items need not have been depth-checked (an older
// release wrote them unchecked), and a walk one call per level overflows the stack.
nlohmann::json to_attribute_value(const nlohmann::json& value) {
  json root;
  std::vector<Pending> todo{{&value, &root}};
  while (!todo.empty()) {
    Pending next = todo.back();
    todo.pop_back();
    convert_one(*next.in, *next.out, todo);
  }
  return root;
}

nlohmann::json to_image(const nlohmann::json& item) {
  KUMO_CHECK(item.is_object());
  return std::move(to_attribute_value(item)["M"]);
}

}  // namespace kumo::tables

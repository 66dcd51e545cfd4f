#include "tables/attribute_value.h"

#include "common/check.h"

namespace kumo::tables {

nlohmann::json to_attribute_value(const nlohmann::json& value) {
  using nlohmann::json;
  switch (value.type()) {
    case json::value_t::string:
      return {{"S", value}};
    case json::value_t::boolean:
      return {{"BOOL", value}};
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float:
      return {{"N", value.dump()}};
    case json::value_t::object:
      return {{"M", to_image(value)}};
    case json::value_t::array: {
      json list = json::array();
      for (const auto& element : value) list.push_back(to_attribute_value(element));
      return {{"L", std::move(list)}};
    }
    case json::value_t::null:
    case json::value_t::discarded:
    case json::value_t::binary:
      break;
  }
  return {{"NULL", true}};
}

nlohmann::json to_image(const nlohmann::json& item) {
  KUMO_CHECK(item.is_object());
  nlohmann::json image = nlohmann::json::object();
  for (const auto& [name, value] : item.items()) image[name] = to_attribute_value(value);
  return image;
}

}  // namespace kumo::tables

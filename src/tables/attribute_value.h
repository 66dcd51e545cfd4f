// Conversion of plain JSON into DynamoDB's attribute-value JSON, the form change records
// carry their images in: "x" -> {"S": "x"}, 1.5 -> {"N": "1.5"}, true -> {"BOOL": true},
// null -> {"NULL": true}, {...} -> {"M": {...}}, [...] -> {"L": [...]}.
// Pure functions; thread-safe. They walk without recursion, so any depth is safe to convert
// (dumping the result is not: callers keep to common/json.h's depth bound).
#pragma once

#include <nlohmann/json.hpp>

namespace kumo::tables {

// One value as an attribute value. Numbers keep their JSON spelling (as DynamoDB's "N").
nlohmann::json to_attribute_value(const nlohmann::json& value);

// An item (a JSON object) as an image: each attribute as an attribute value, without the
// outer {"M": ...}, as in a stream record's NewImage/OldImage. A non-object is a bug.
nlohmann::json to_image(const nlohmann::json& item);

}  // namespace kumo::tables

#include "events/sink.h"

namespace kumo::events {

const char* kind_name(TableChange::Kind kind) {
  switch (kind) {
    case TableChange::Kind::kInsert: return "insert";
    case TableChange::Kind::kModify: return "update";
    case TableChange::Kind::kRemove: return "delete";
  }
  return "insert";
}

}  // namespace kumo::events

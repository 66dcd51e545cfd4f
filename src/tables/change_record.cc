#include "tables/change_record.h"

#include <fmt/format.h>

#include "common/tenant_name.h"
#include "tables/attribute_value.h"

namespace kumo::tables {

const char* event_name(events::TableChange::Kind kind) {
  switch (kind) {
    case events::TableChange::Kind::kInsert:
      return "INSERT";
    case events::TableChange::Kind::kModify:
      return "MODIFY";
    case events::TableChange::Kind::kRemove:
      return "REMOVE";
  }
  return "INSERT";
}

std::string stream_arn(const std::string& table) {
  return fmt::format("arn:kumo:tables:local:table/{}/stream", table);
}

std::string sequence_number(int64_t sequence) { return fmt::format("{:021d}", sequence); }

nlohmann::json build_record(const ChangeRecord& change) {
  nlohmann::json dynamodb = {{"ApproximateCreationDateTime", change.at_seconds},
                             {"Keys", change.keys}};
  // SizeBytes counts what DynamoDB counts: the keys and the images.
  size_t size = change.keys.dump().size();
  if (change.new_item.is_object()) {
    dynamodb["NewImage"] = to_image(change.new_item);
    size += dynamodb["NewImage"].dump().size();
  }
  if (change.old_item.is_object()) {
    dynamodb["OldImage"] = to_image(change.old_item);
    size += dynamodb["OldImage"].dump().size();
  }
  dynamodb["SequenceNumber"] = sequence_number(change.sequence);
  dynamodb["SizeBytes"] = size;
  dynamodb["StreamViewType"] = "NEW_AND_OLD_IMAGES";
  return {{"eventID", change.event_id},
          {"eventName", event_name(change.kind)},
          {"eventVersion", "1.1"},
          {"eventSource", "aws:dynamodb"},
          {"awsRegion", "us-east-1"},
          {"dynamodb", std::move(dynamodb)},
          {"eventSourceARN", stream_arn(std::string(local_part(change.table)))}};
}

events::TableChange to_table_change(const ChangeRecord& change) {
  return events::TableChange{change.kind, change.table, build_record(change)};
}

events::Message undeliverable_change(const ChangeRecord& change, const std::string& reason) {
  std::string source = fmt::format("table:{}", local_part(change.table));
  nlohmann::json body = {{"source", source},
                         {"eventID", change.event_id},
                         {"eventName", event_name(change.kind)},
                         {"keys", change.keys},
                         {"sequenceNumber", sequence_number(change.sequence)},
                         {"error", {{"type", "UndeliverableRecord"}, {"message", reason}}}};
  return events::Message{
      body.dump(),
      {{"kumo_source", source}, {"kumo_error_type", "UndeliverableRecord"}}};
}

}  // namespace kumo::tables

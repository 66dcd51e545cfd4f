// The SQL the PostgreSQL connector installs and runs in the watched database.
//
// kumo_changes is the database-side outbox: a row trigger (kumo_capture) on each watched
// table writes one row per changed row, in the same transaction as the change, and sends
// pg_notify('kumo_changes', id). The connector reads the rows, delivers them and deletes
// them, so changes made while Kumo is down are delivered when it comes back, and a row's
// size is not bound by NOTIFY's 8000-byte payload limit.
#pragma once

namespace kumo::tables::pg_sql {

inline constexpr const char* kChannel = "kumo_changes";

// Idempotent; run in one transaction under an advisory lock so two servers starting at once
// do not race. An UPDATE that changes nothing records nothing (as DynamoDB Streams).
inline constexpr const char* kInstall = R"sql(
SELECT pg_advisory_xact_lock(hashtext('kumo_changes'));
CREATE TABLE IF NOT EXISTS kumo_changes (
  id       bigserial PRIMARY KEY,
  tbl      text NOT NULL,
  op       text NOT NULL,
  old      jsonb,
  new      jsonb,
  at       timestamptz NOT NULL DEFAULT now(),
  event_id text NOT NULL DEFAULT md5(random()::text || clock_timestamp()::text)
);
CREATE INDEX IF NOT EXISTS kumo_changes_tbl_id ON kumo_changes (tbl, id);
CREATE OR REPLACE FUNCTION kumo_capture() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  change_id bigint;
BEGIN
  IF TG_OP = 'UPDATE' AND OLD IS NOT DISTINCT FROM NEW THEN
    RETURN NULL;
  END IF;
  INSERT INTO kumo_changes (tbl, op, old, new)
  VALUES (TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME, TG_OP,
          CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END,
          CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END)
  RETURNING id INTO change_id;
  PERFORM pg_notify('kumo_changes', change_id::text);
  RETURN NULL;
END
$$;
)sql";

// $1: the table as configured. Returns its quoted name for DDL and schema.name as the
// trigger records it; no row when the table does not exist.
inline constexpr const char* kResolveTable =
    "SELECT c.oid::regclass::text, n.nspname || '.' || c.relname FROM pg_class c "
    "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass($1)";

// $1: the table, $2: the key column. One row when the column exists.
inline constexpr const char* kKeyColumn =
    "SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = $2 "
    "AND attnum > 0 AND NOT attisdropped";

// $1: the table. One row when the trigger is there.
inline constexpr const char* kHasTrigger =
    "SELECT 1 FROM pg_trigger WHERE tgrelid = to_regclass($1) AND tgname = 'kumo_capture'";

// Followed by the quoted table name.
inline constexpr const char* kCreateTriggerOn =
    "CREATE TRIGGER kumo_capture AFTER INSERT OR "
    "UPDATE OR DELETE ON ";
inline constexpr const char* kCreateTriggerTail = " FOR EACH ROW EXECUTE FUNCTION kumo_capture()";

// $1: schema.name as recorded, $2: how many.
inline constexpr const char* kPending =
    "SELECT id, op, old::text, new::text, extract(epoch from at)::bigint, event_id "
    "FROM kumo_changes WHERE tbl = $1 ORDER BY id LIMIT $2";

inline constexpr const char* kDelete = "DELETE FROM kumo_changes WHERE id = $1";

}  // namespace kumo::tables::pg_sql

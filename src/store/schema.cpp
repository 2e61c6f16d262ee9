// Schema migrations of the store module (see db/migrator.hpp).
//
// store/1  KillReport's nine tables (alliances, corporations, characters, types, users,
//          killmails, victims, attackers, killmail_items) with the original's names and columns,
//          created only when absent. When WE create them, ids are BIGINT (64-bit; the original
//          uses INT), damage/quantities are BIGINT, and the indexes the scanner needs are added.
//          An existing KillReport table is never altered and gets no index from us: there ids
//          stay INT and an id above 2^31-1 fails with SQLSTATE 22003 (kr::PermanentError).
//          PostgreSQL records the tables we created in kr_created_tables.
// store/2  our own tables: kr_http_cache, kr_pending_entities, kr_killmail_item_children.
// store/3  kr_pending_entities UNLOGGED on PostgreSQL (a hint, see below).
//
// updated_at is NOT NULL without a default, as in the original: the store always sets it.
// Timestamps: TIMESTAMP(3) (UTC, no time zone, like Prisma) on PostgreSQL, ISO-8601 TEXT on SQLite.
#include "db/migrator.hpp"

namespace kr::store {

namespace {

// ---- PostgreSQL ---------------------------------------------------------------------------------

constexpr const char* kPgOriginalTables = R"SQL(
CREATE TABLE IF NOT EXISTS kr_created_tables (
  table_name TEXT PRIMARY KEY,
  created_at TIMESTAMP(3) NOT NULL DEFAULT (now() AT TIME ZONE 'UTC')
);
DO $kr$
BEGIN
  IF to_regclass('alliances') IS NULL THEN
    CREATE TABLE alliances (
      id BIGINT PRIMARY KEY,
      name TEXT NOT NULL,
      ticker TEXT NOT NULL,
      date_founded TIMESTAMP(3) NOT NULL,
      creator_corporation_id BIGINT NOT NULL,
      creator_id BIGINT NOT NULL,
      executor_corporation_id BIGINT,
      faction_id BIGINT,
      created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
      updated_at TIMESTAMP(3) NOT NULL,
      corporation_count INTEGER NOT NULL DEFAULT 0,
      member_count INTEGER NOT NULL DEFAULT 0
    );
    INSERT INTO kr_created_tables (table_name) VALUES ('alliances');
  END IF;

  IF to_regclass('corporations') IS NULL THEN
    CREATE TABLE corporations (
      id BIGINT PRIMARY KEY,
      name TEXT NOT NULL,
      ticker TEXT NOT NULL,
      member_count INTEGER NOT NULL,
      ceo_id BIGINT NOT NULL,
      creator_id BIGINT NOT NULL,
      date_founded TIMESTAMP(3),
      description TEXT,
      alliance_id BIGINT,
      faction_id BIGINT,
      home_station_id BIGINT,
      shares BIGINT,
      tax_rate DOUBLE PRECISION NOT NULL,
      url TEXT,
      created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
      updated_at TIMESTAMP(3) NOT NULL
    );
    CREATE INDEX corporations_alliance_id_idx ON corporations (alliance_id);
    INSERT INTO kr_created_tables (table_name) VALUES ('corporations');
  END IF;

  IF to_regclass('characters') IS NULL THEN
    CREATE TABLE characters (
      id BIGINT PRIMARY KEY,
      name TEXT NOT NULL,
      corporation_id BIGINT NOT NULL,
      alliance_id BIGINT,
      birthday TIMESTAMP(3) NOT NULL,
      bloodline_id INTEGER NOT NULL,
      race_id INTEGER NOT NULL,
      gender TEXT NOT NULL,
      security_status DOUBLE PRECISION,
      description TEXT,
      title TEXT,
      faction_id BIGINT,
      created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
      updated_at TIMESTAMP(3) NOT NULL
    );
    CREATE INDEX characters_corporation_id_idx ON characters (corporation_id);
    CREATE INDEX characters_alliance_id_idx ON characters (alliance_id);
    INSERT INTO kr_created_tables (table_name) VALUES ('characters');
  END IF;

  IF to_regclass('types') IS NULL THEN
    CREATE TABLE types (
      id BIGINT PRIMARY KEY,
      name TEXT NOT NULL,
      description TEXT,
      group_id BIGINT NOT NULL,
      published BOOLEAN NOT NULL DEFAULT true,
      volume DOUBLE PRECISION,
      capacity DOUBLE PRECISION,
      mass DOUBLE PRECISION,
      icon_id BIGINT,
      created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
      updated_at TIMESTAMP(3) NOT NULL
    );
    CREATE INDEX types_group_id_idx ON types (group_id);
    INSERT INTO kr_created_tables (table_name) VALUES ('types');
  END IF;

  IF to_regclass('users') IS NULL THEN
    CREATE TABLE users (
      id SERIAL PRIMARY KEY,
      character_id BIGINT NOT NULL UNIQUE,
      character_name TEXT NOT NULL,
      access_token TEXT,
      refresh_token TEXT,
      expires_at TIMESTAMP(3),
      created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
      updated_at TIMESTAMP(3) NOT NULL
    );
    INSERT INTO kr_created_tables (table_name) VALUES ('users');
  END IF;

  IF to_regclass('killmails') IS NULL THEN
    CREATE TABLE killmails (
      killmail_id BIGINT PRIMARY KEY,
      killmail_hash TEXT NOT NULL,
      killmail_time TIMESTAMP(3) NOT NULL,
      solar_system_id BIGINT NOT NULL,
      total_value DOUBLE PRECISION,
      destroyed_value DOUBLE PRECISION,
      dropped_value DOUBLE PRECISION,
      attacker_count INTEGER,
      related_campaign_id INTEGER,
      is_war_related BOOLEAN NOT NULL DEFAULT false,
      created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
      updated_at TIMESTAMP(3) NOT NULL
    );
    INSERT INTO kr_created_tables (table_name) VALUES ('killmails');
  END IF;

  IF to_regclass('victims') IS NULL THEN
    CREATE TABLE victims (
      killmail_id BIGINT PRIMARY KEY REFERENCES killmails (killmail_id) ON DELETE CASCADE,
      character_id BIGINT,
      corporation_id BIGINT NOT NULL,
      alliance_id BIGINT,
      faction_id BIGINT,
      ship_type_id BIGINT NOT NULL,
      damage_taken BIGINT NOT NULL,
      position_x DOUBLE PRECISION,
      position_y DOUBLE PRECISION,
      position_z DOUBLE PRECISION,
      created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP
    );
    CREATE INDEX victims_character_id_idx ON victims (character_id);
    CREATE INDEX victims_corporation_id_idx ON victims (corporation_id);
    CREATE INDEX victims_alliance_id_idx ON victims (alliance_id);
    CREATE INDEX victims_ship_type_id_idx ON victims (ship_type_id);
    INSERT INTO kr_created_tables (table_name) VALUES ('victims');
  END IF;

  IF to_regclass('attackers') IS NULL THEN
    CREATE TABLE attackers (
      id BIGSERIAL PRIMARY KEY,
      killmail_id BIGINT NOT NULL REFERENCES killmails (killmail_id) ON DELETE CASCADE,
      character_id BIGINT,
      corporation_id BIGINT,
      alliance_id BIGINT,
      faction_id BIGINT,
      ship_type_id BIGINT,
      weapon_type_id BIGINT,
      damage_done BIGINT NOT NULL,
      final_blow BOOLEAN NOT NULL,
      security_status DOUBLE PRECISION,
      created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
      updated_at TIMESTAMP(3) NOT NULL
    );
    CREATE INDEX attackers_killmail_id_idx ON attackers (killmail_id);
    CREATE INDEX attackers_character_id_idx ON attackers (character_id);
    CREATE INDEX attackers_corporation_id_idx ON attackers (corporation_id);
    CREATE INDEX attackers_alliance_id_idx ON attackers (alliance_id);
    CREATE INDEX attackers_ship_type_id_idx ON attackers (ship_type_id);
    CREATE INDEX attackers_weapon_type_id_idx ON attackers (weapon_type_id);
    INSERT INTO kr_created_tables (table_name) VALUES ('attackers');
  END IF;

  IF to_regclass('killmail_items') IS NULL THEN
    CREATE TABLE killmail_items (
      id BIGSERIAL PRIMARY KEY,
      killmail_id BIGINT NOT NULL REFERENCES killmails (killmail_id) ON DELETE CASCADE,
      item_type_id BIGINT NOT NULL,
      flag INTEGER NOT NULL,
      quantity_dropped BIGINT,
      quantity_destroyed BIGINT,
      singleton INTEGER NOT NULL,
      created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP
    );
    CREATE INDEX killmail_items_killmail_id_idx ON killmail_items (killmail_id);
    CREATE INDEX killmail_items_item_type_id_idx ON killmail_items (item_type_id);
    INSERT INTO kr_created_tables (table_name) VALUES ('killmail_items');
  END IF;
END
$kr$;
)SQL";

constexpr const char* kPgOwnTables = R"SQL(
CREATE TABLE IF NOT EXISTS kr_http_cache (
  path TEXT PRIMARY KEY,
  etag TEXT,
  last_modified TEXT,
  expires_at BIGINT NOT NULL,
  status INTEGER NOT NULL,
  checked_at BIGINT NOT NULL,
  entity_kind TEXT,
  entity_id BIGINT
);
CREATE INDEX IF NOT EXISTS kr_http_cache_entity_idx ON kr_http_cache (entity_kind, entity_id);
CREATE TABLE IF NOT EXISTS kr_pending_entities (
  kind TEXT NOT NULL,
  id BIGINT NOT NULL,
  queued_at BIGINT NOT NULL,
  PRIMARY KEY (kind, id)
);
CREATE TABLE IF NOT EXISTS kr_killmail_item_children (
  killmail_id BIGINT NOT NULL REFERENCES killmails (killmail_id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  parent_position INTEGER NOT NULL,
  parent_item_type_id BIGINT NOT NULL,
  parent_flag INTEGER NOT NULL,
  parent_child_position INTEGER,
  depth INTEGER NOT NULL,
  item_type_id BIGINT NOT NULL,
  flag INTEGER NOT NULL,
  quantity_dropped BIGINT,
  quantity_destroyed BIGINT,
  singleton INTEGER NOT NULL,
  PRIMARY KEY (killmail_id, position)
);
CREATE INDEX IF NOT EXISTS kr_killmail_item_children_type_idx ON kr_killmail_item_children (item_type_id);
)SQL";

// ---- SQLite -------------------------------------------------------------------------------------
// There is no pre-existing KillReport SQLite database (the original is PostgreSQL only), so all
// tables and indexes are created unconditionally with IF NOT EXISTS.

constexpr const char* kSqliteOriginalTables = R"SQL(
CREATE TABLE IF NOT EXISTS alliances (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  ticker TEXT NOT NULL,
  date_founded TEXT NOT NULL,
  creator_corporation_id INTEGER NOT NULL,
  creator_id INTEGER NOT NULL,
  executor_corporation_id INTEGER,
  faction_id INTEGER,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  updated_at TEXT NOT NULL,
  corporation_count INTEGER NOT NULL DEFAULT 0,
  member_count INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS corporations (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  ticker TEXT NOT NULL,
  member_count INTEGER NOT NULL,
  ceo_id INTEGER NOT NULL,
  creator_id INTEGER NOT NULL,
  date_founded TEXT,
  description TEXT,
  alliance_id INTEGER,
  faction_id INTEGER,
  home_station_id INTEGER,
  shares INTEGER,
  tax_rate REAL NOT NULL,
  url TEXT,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS corporations_alliance_id_idx ON corporations (alliance_id);
CREATE TABLE IF NOT EXISTS characters (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  corporation_id INTEGER NOT NULL,
  alliance_id INTEGER,
  birthday TEXT NOT NULL,
  bloodline_id INTEGER NOT NULL,
  race_id INTEGER NOT NULL,
  gender TEXT NOT NULL,
  security_status REAL,
  description TEXT,
  title TEXT,
  faction_id INTEGER,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS characters_corporation_id_idx ON characters (corporation_id);
CREATE INDEX IF NOT EXISTS characters_alliance_id_idx ON characters (alliance_id);
CREATE TABLE IF NOT EXISTS types (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  description TEXT,
  group_id INTEGER NOT NULL,
  published INTEGER NOT NULL DEFAULT 1,
  volume REAL,
  capacity REAL,
  mass REAL,
  icon_id INTEGER,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS types_group_id_idx ON types (group_id);
CREATE TABLE IF NOT EXISTS users (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  character_id INTEGER NOT NULL UNIQUE,
  character_name TEXT NOT NULL,
  access_token TEXT,
  refresh_token TEXT,
  expires_at TEXT,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS killmails (
  killmail_id INTEGER PRIMARY KEY,
  killmail_hash TEXT NOT NULL,
  killmail_time TEXT NOT NULL,
  solar_system_id INTEGER NOT NULL,
  total_value REAL,
  destroyed_value REAL,
  dropped_value REAL,
  attacker_count INTEGER,
  related_campaign_id INTEGER,
  is_war_related INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS victims (
  killmail_id INTEGER PRIMARY KEY REFERENCES killmails (killmail_id) ON DELETE CASCADE,
  character_id INTEGER,
  corporation_id INTEGER NOT NULL,
  alliance_id INTEGER,
  faction_id INTEGER,
  ship_type_id INTEGER NOT NULL,
  damage_taken INTEGER NOT NULL,
  position_x REAL,
  position_y REAL,
  position_z REAL,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX IF NOT EXISTS victims_character_id_idx ON victims (character_id);
CREATE INDEX IF NOT EXISTS victims_corporation_id_idx ON victims (corporation_id);
CREATE INDEX IF NOT EXISTS victims_alliance_id_idx ON victims (alliance_id);
CREATE INDEX IF NOT EXISTS victims_ship_type_id_idx ON victims (ship_type_id);
CREATE TABLE IF NOT EXISTS attackers (
  id INTEGER PRIMARY KEY,
  killmail_id INTEGER NOT NULL REFERENCES killmails (killmail_id) ON DELETE CASCADE,
  character_id INTEGER,
  corporation_id INTEGER,
  alliance_id INTEGER,
  faction_id INTEGER,
  ship_type_id INTEGER,
  weapon_type_id INTEGER,
  damage_done INTEGER NOT NULL,
  final_blow INTEGER NOT NULL,
  security_status REAL,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS attackers_killmail_id_idx ON attackers (killmail_id);
CREATE INDEX IF NOT EXISTS attackers_character_id_idx ON attackers (character_id);
CREATE INDEX IF NOT EXISTS attackers_corporation_id_idx ON attackers (corporation_id);
CREATE INDEX IF NOT EXISTS attackers_alliance_id_idx ON attackers (alliance_id);
CREATE INDEX IF NOT EXISTS attackers_ship_type_id_idx ON attackers (ship_type_id);
CREATE INDEX IF NOT EXISTS attackers_weapon_type_id_idx ON attackers (weapon_type_id);
CREATE TABLE IF NOT EXISTS killmail_items (
  id INTEGER PRIMARY KEY,
  killmail_id INTEGER NOT NULL REFERENCES killmails (killmail_id) ON DELETE CASCADE,
  item_type_id INTEGER NOT NULL,
  flag INTEGER NOT NULL,
  quantity_dropped INTEGER,
  quantity_destroyed INTEGER,
  singleton INTEGER NOT NULL,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX IF NOT EXISTS killmail_items_killmail_id_idx ON killmail_items (killmail_id);
CREATE INDEX IF NOT EXISTS killmail_items_item_type_id_idx ON killmail_items (item_type_id);
)SQL";

constexpr const char* kSqliteOwnTables = R"SQL(
CREATE TABLE IF NOT EXISTS kr_http_cache (
  path TEXT PRIMARY KEY,
  etag TEXT,
  last_modified TEXT,
  expires_at INTEGER NOT NULL,
  status INTEGER NOT NULL,
  checked_at INTEGER NOT NULL,
  entity_kind TEXT,
  entity_id INTEGER
);
CREATE INDEX IF NOT EXISTS kr_http_cache_entity_idx ON kr_http_cache (entity_kind, entity_id);
CREATE TABLE IF NOT EXISTS kr_pending_entities (
  kind TEXT NOT NULL,
  id INTEGER NOT NULL,
  queued_at INTEGER NOT NULL,
  PRIMARY KEY (kind, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS kr_killmail_item_children (
  killmail_id INTEGER NOT NULL REFERENCES killmails (killmail_id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  parent_position INTEGER NOT NULL,
  parent_item_type_id INTEGER NOT NULL,
  parent_flag INTEGER NOT NULL,
  parent_child_position INTEGER,
  depth INTEGER NOT NULL,
  item_type_id INTEGER NOT NULL,
  flag INTEGER NOT NULL,
  quantity_dropped INTEGER,
  quantity_destroyed INTEGER,
  singleton INTEGER NOT NULL,
  PRIMARY KEY (killmail_id, position)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS kr_killmail_item_children_type_idx ON kr_killmail_item_children (item_type_id);
)SQL";

}  // namespace

std::vector<kr::db::Migration> SchemaMigrations() {
    return {
        {"store", 1, "KillReport tables (created when absent)", kSqliteOriginalTables, kPgOriginalTables},
        {"store", 2, "kr_http_cache, kr_pending_entities, kr_killmail_item_children", kSqliteOwnTables,
         kPgOwnTables},
        // "Queued at" marks are a hint (scan:entities skips what was queued recently): no WAL for them
        // halves the cost of marking a scan's ids. After a PostgreSQL crash the table is empty and the
        // next scan queues again what is still missing; the workers skip what is fresh by then.
        {"store", 3, "kr_pending_entities unlogged (PostgreSQL)", "", "ALTER TABLE kr_pending_entities SET UNLOGGED;"},
    };
}

}  // namespace kr::store

#pragma once
// "A database the original created": KillReport's tables as its migrations leave them on
// PostgreSQL (../shared/reference/killreport-derived-tables.md and the Prisma schema's nine core
// tables): INTEGER ids, its users table with the SSO columns NOT NULL, the universe tables with
// their foreign keys, and the derived tables with integer[] arrays and GIN indexes.
#include <array>
#include <string>

namespace kr::test {

/// Every table of the original, in creation order.
inline const std::array<const char*, 16>& OriginalTables() {
    static const std::array<const char*, 16> tables = {"alliances",
                                                       "corporations",
                                                       "characters",
                                                       "types",
                                                       "users",
                                                       "killmails",
                                                       "victims",
                                                       "attackers",
                                                       "killmail_items",
                                                       "regions",
                                                       "constellations",
                                                       "solar_systems",
                                                       "killmail_filters",
                                                       "character_kill_stats",
                                                       "corporation_kill_stats",
                                                       "alliance_kill_stats"};
    return tables;
}

inline const char* OriginalSchemaSql() {
    return R"SQL(
CREATE TABLE alliances (id INTEGER PRIMARY KEY, name TEXT NOT NULL, ticker TEXT NOT NULL,
  date_founded TIMESTAMP(3) NOT NULL, creator_corporation_id INTEGER NOT NULL, creator_id INTEGER NOT NULL,
  executor_corporation_id INTEGER, faction_id INTEGER, created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at TIMESTAMP(3) NOT NULL, corporation_count INTEGER NOT NULL DEFAULT 0, member_count INTEGER NOT NULL DEFAULT 0);
CREATE TABLE corporations (id INTEGER PRIMARY KEY, name TEXT NOT NULL, ticker TEXT NOT NULL, member_count INTEGER NOT NULL,
  ceo_id INTEGER NOT NULL, creator_id INTEGER NOT NULL, date_founded TIMESTAMP(3), description TEXT, alliance_id INTEGER,
  faction_id INTEGER, home_station_id INTEGER, shares BIGINT, tax_rate DOUBLE PRECISION NOT NULL, url TEXT,
  created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP, updated_at TIMESTAMP(3) NOT NULL);
CREATE TABLE characters (id INTEGER PRIMARY KEY, name TEXT NOT NULL, corporation_id INTEGER NOT NULL, alliance_id INTEGER,
  birthday TIMESTAMP(3) NOT NULL, bloodline_id INTEGER NOT NULL, race_id INTEGER NOT NULL, gender TEXT NOT NULL,
  security_status DOUBLE PRECISION, description TEXT, title TEXT, faction_id INTEGER,
  created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP, updated_at TIMESTAMP(3) NOT NULL);
CREATE TABLE types (id INTEGER PRIMARY KEY, name TEXT NOT NULL, description TEXT, group_id INTEGER NOT NULL,
  published BOOLEAN NOT NULL DEFAULT true, volume DOUBLE PRECISION, capacity DOUBLE PRECISION, mass DOUBLE PRECISION,
  icon_id INTEGER, created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP, updated_at TIMESTAMP(3) NOT NULL);
CREATE TABLE users (id SERIAL PRIMARY KEY, character_id INTEGER NOT NULL UNIQUE, character_name TEXT NOT NULL,
  character_owner_hash TEXT NOT NULL, access_token TEXT NOT NULL, refresh_token TEXT, expires_at TIMESTAMP(3) NOT NULL,
  email TEXT UNIQUE, created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP, updated_at TIMESTAMP(3) NOT NULL,
  last_killmail_id INTEGER, last_killmail_sync_at TIMESTAMP(3), corporation_id INTEGER, last_corp_killmail_id INTEGER,
  last_corp_killmail_sync_at TIMESTAMP(3));
CREATE TABLE killmails (killmail_id INTEGER PRIMARY KEY, killmail_hash TEXT NOT NULL, killmail_time TIMESTAMP(3) NOT NULL,
  solar_system_id INTEGER NOT NULL, total_value DOUBLE PRECISION, destroyed_value DOUBLE PRECISION,
  dropped_value DOUBLE PRECISION, attacker_count INTEGER, related_campaign_id INTEGER,
  is_war_related BOOLEAN NOT NULL DEFAULT false, created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at TIMESTAMP(3) NOT NULL);
CREATE TABLE victims (killmail_id INTEGER PRIMARY KEY REFERENCES killmails (killmail_id) ON DELETE CASCADE,
  character_id INTEGER, corporation_id INTEGER NOT NULL, alliance_id INTEGER, faction_id INTEGER,
  ship_type_id INTEGER NOT NULL, damage_taken INTEGER NOT NULL, position_x DOUBLE PRECISION,
  position_y DOUBLE PRECISION, position_z DOUBLE PRECISION, created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP);
CREATE TABLE attackers (id BIGSERIAL PRIMARY KEY, killmail_id INTEGER NOT NULL REFERENCES killmails (killmail_id)
  ON DELETE CASCADE, character_id INTEGER, corporation_id INTEGER, alliance_id INTEGER, faction_id INTEGER,
  ship_type_id INTEGER, weapon_type_id INTEGER, damage_done INTEGER NOT NULL, final_blow BOOLEAN NOT NULL,
  security_status DOUBLE PRECISION, created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at TIMESTAMP(3) NOT NULL);
CREATE INDEX attackers_killmail_id_idx ON attackers (killmail_id);
CREATE TABLE killmail_items (id BIGSERIAL PRIMARY KEY, killmail_id INTEGER NOT NULL REFERENCES killmails (killmail_id)
  ON DELETE CASCADE, item_type_id INTEGER NOT NULL, flag INTEGER NOT NULL, quantity_dropped INTEGER,
  quantity_destroyed INTEGER, singleton INTEGER NOT NULL, created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP);
CREATE INDEX killmails_solar_system_id_idx ON killmails (solar_system_id);
CREATE TABLE regions (region_id INTEGER PRIMARY KEY, name TEXT NOT NULL, description TEXT);
CREATE TABLE constellations (constellation_id INTEGER PRIMARY KEY, name TEXT NOT NULL, region_id INTEGER,
  position_x DOUBLE PRECISION, position_y DOUBLE PRECISION, position_z DOUBLE PRECISION);
CREATE TABLE solar_systems (system_id INTEGER PRIMARY KEY, name TEXT NOT NULL, constellation_id INTEGER,
  security_status DOUBLE PRECISION, security_class TEXT, star_id INTEGER, position_x DOUBLE PRECISION,
  position_y DOUBLE PRECISION, position_z DOUBLE PRECISION);
ALTER TABLE constellations ADD CONSTRAINT constellations_region_id_fkey FOREIGN KEY (region_id)
  REFERENCES regions (region_id) ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE solar_systems ADD CONSTRAINT solar_systems_constellation_id_fkey FOREIGN KEY (constellation_id)
  REFERENCES constellations (constellation_id) ON DELETE RESTRICT ON UPDATE CASCADE;
CREATE TABLE killmail_filters (killmail_id INTEGER NOT NULL PRIMARY KEY, killmail_time TIMESTAMP(3),
  solar_system_id INTEGER, attacker_count INTEGER, constellation_id INTEGER, region_id INTEGER,
  victim_ship_type_id INTEGER, victim_character_id INTEGER, victim_corporation_id INTEGER, victim_alliance_id INTEGER,
  attacker_ship_type_ids INTEGER[], attacker_character_ids INTEGER[], attacker_corporation_ids INTEGER[],
  attacker_alliance_ids INTEGER[], security_status DOUBLE PRECISION, security_class VARCHAR(2));
CREATE INDEX killmail_filters_victim_character_id_idx ON killmail_filters (victim_character_id);
CREATE INDEX killmail_filters_victim_corporation_id_idx ON killmail_filters (victim_corporation_id);
CREATE INDEX killmail_filters_victim_alliance_id_idx ON killmail_filters (victim_alliance_id);
CREATE INDEX killmail_filters_victim_ship_type_id_idx ON killmail_filters (victim_ship_type_id);
CREATE INDEX killmail_filters_solar_system_id_idx ON killmail_filters (solar_system_id);
CREATE INDEX killmail_filters_region_id_killmail_time_idx ON killmail_filters (region_id, killmail_time DESC);
CREATE INDEX killmail_filters_killmail_time_idx ON killmail_filters (killmail_time DESC);
CREATE INDEX killmail_filters_attacker_character_ids_idx ON killmail_filters USING GIN (attacker_character_ids);
CREATE INDEX killmail_filters_attacker_corporation_ids_idx ON killmail_filters USING GIN (attacker_corporation_ids);
CREATE INDEX killmail_filters_attacker_alliance_ids_idx ON killmail_filters USING GIN (attacker_alliance_ids);
CREATE INDEX killmail_filters_attacker_ship_type_ids_idx ON killmail_filters USING GIN (attacker_ship_type_ids);
CREATE TABLE character_kill_stats (kill_date DATE NOT NULL, character_id INTEGER NOT NULL, kill_count INTEGER,
  PRIMARY KEY (kill_date, character_id));
CREATE INDEX character_kill_stats_kill_date_kill_count_idx ON character_kill_stats (kill_date, kill_count DESC);
CREATE TABLE corporation_kill_stats (kill_date DATE NOT NULL, corporation_id INTEGER NOT NULL, kill_count INTEGER,
  PRIMARY KEY (kill_date, corporation_id));
CREATE INDEX corporation_kill_stats_kill_date_kill_count_idx ON corporation_kill_stats (kill_date, kill_count DESC);
CREATE TABLE alliance_kill_stats (kill_date DATE NOT NULL, alliance_id INTEGER NOT NULL, kill_count INTEGER,
  PRIMARY KEY (kill_date, alliance_id));
CREATE INDEX alliance_kill_stats_kill_date_kill_count_idx ON alliance_kill_stats (kill_date, kill_count DESC);
INSERT INTO users (character_id, character_name, character_owner_hash, access_token, expires_at, updated_at)
  VALUES (95465499, 'CCP Falcon', 'owner-hash', 'tok', '2030-01-01 00:00:00', '2026-01-01 00:00:00');
)SQL";
}

}  // namespace kr::test

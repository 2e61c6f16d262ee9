#pragma once
// The original's message bodies (UTF-8 JSON), built and parsed with validation.
//
// Entity message (all esi_* queues):
//   {"entityId": 99003214, "queuedAt": "2026-07-08T22:00:01.123Z", "source": "queue-alliances"}
//   The original's consumers read only entityId; the GraphQL refresh adds "userId" (ignored).
// Bare id (esi_regions_queue, esi_constellations_queue, esi_solar_systems_queue): the body is the
//   id's decimal digits ("10000002"), as the original's universe scripts publish and its workers
//   parseInt. ParseEntityMessage takes both forms on every queue; the kind's MessageFormat
//   (core/entity_kind.hpp) says which one its producers write.
// zKillboard job (zkillboard_character_queue):
//   {"userId": 12 | null, "characterId": 95465499, "characterName": "CCP Falcon", "queuedAt": "…"}
//   OUR extension: optional "page" (1-based zKillboard page to resume from; absent = 1). It lets a
//   worker checkpoint a long character sync page by page (publish the next page, ack the current
//   one) instead of holding one delivery for hours past RabbitMQ's 30-minute consumer_timeout.
//   OUR extension: optional "chain" (a string, at most kMaxChainKey bytes) on the pages after the
//   first: the key of the sync the page belongs to (the first message's queuedAt), which keeps
//   one page chain per character (worker/zkillboard_worker.hpp). A message without it starts a
//   new sync, as the original's and our queue scripts' messages do.
//   The original ignores unknown fields, so it still consumes these (starting from page 1).
//
// Parse failures throw kr::PermanentError with Reason():
//   "too_large"        body larger than kMaxBodyBytes (checked before parsing)
//   "bad_json"         not JSON / not UTF-8 JSON
//   "bad_field"        not an object, a required field missing, a field of the wrong type
//   "id_out_of_range"  an id that is not in 1 .. 2^53 (JSON numbers beyond that lose precision)
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/entity_kind.hpp"

namespace kr::queue {

inline constexpr std::size_t kMaxBodyBytes = 64 * 1024;
inline constexpr std::int64_t kMaxMessageId = std::int64_t{1} << 53;
inline constexpr int kMaxZkillboardPage = 10000;
inline constexpr std::size_t kMaxChainKey = 100;

struct EntityMessage {
    std::int64_t entity_id = 0;
    std::string queued_at;                ///< required when building: IsoUtc(clock.NowMs())
    std::string source;                   ///< "queue-alliances", "killmail_scan", "alliance_<id>", …
    std::optional<std::int64_t> user_id;  ///< only the GraphQL refresh sets it
};

/// Field order as the original writes it: entityId, queuedAt, source[, userId].
/// Throws kr::PermanentError("id_out_of_range") for an id outside 1 .. 2^53, ("bad_field") for an
/// empty queuedAt (the builders read no clock: the caller's injected one stamps the message).
std::string BuildEntityMessage(const EntityMessage& m);
std::string BuildEntityMessage(std::int64_t entity_id, const std::string& source, const std::string& queued_at);
/// In the given format: kBareId writes only the id's digits (queued_at and source are dropped).
std::string BuildEntityMessage(const EntityMessage& m, MessageFormat format);
/// An entity message, or a bare id (a JSON integer: only entity_id is set).
EntityMessage ParseEntityMessage(std::string_view body);

struct ZkillboardJob {
    std::optional<std::int64_t> user_id;  ///< null for external characters (queue:character)
    std::int64_t character_id = 0;
    std::string character_name;        ///< "Character_<id>" placeholder for external ones
    std::string queued_at;             ///< required when building: IsoUtc(clock.NowMs())
    std::optional<int> page;           ///< our extension, see above
    std::optional<std::string> chain;  ///< our extension, see above
};

std::string BuildZkillboardJob(const ZkillboardJob& job);
ZkillboardJob ParseZkillboardJob(std::string_view body);

}  // namespace kr::queue

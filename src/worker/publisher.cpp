#include "worker/publisher.hpp"

#include <algorithm>
#include <unordered_set>

#include "queue/messages.hpp"
#include "worker/entity_kind.hpp"

namespace kr::worker {

std::size_t PublishIds(queue::Queue& q, const std::string& queue_name, const std::vector<Id>& ids,
                       std::uint8_t priority, const std::string& source, std::size_t batch) {
    if (ids.empty()) return 0;
    q.Declare(queue_name);
    std::vector<queue::OutMessage> out;
    out.reserve(std::min(batch, ids.size()));
    std::size_t published = 0;
    queue::EntityMessage m;
    m.source = source;
    for (std::size_t i = 0; i < ids.size(); ++i) {
        if (out.empty()) m.queued_at = queue::IsoTimestamp(std::chrono::system_clock::now());
        m.entity_id = ids[i];
        out.push_back({queue::BuildEntityMessage(m), priority, 0});
        if (out.size() == batch || i + 1 == ids.size()) {
            q.Publish(queue_name, out);
            published += out.size();
            out.clear();
        }
    }
    return published;
}

std::size_t PublishEntities(queue::Queue& q, store::Store& store, store::EntityKind kind, const std::vector<Id>& ids,
                            std::uint8_t priority, const std::string& source, std::size_t batch) {
    auto n = PublishIds(q, Traits(kind).queue, ids, priority, source, batch);
    if (n > 0) store.MarkPending(kind, ids);
    return n;
}

namespace {

void AddItems(const std::vector<KillmailItem>& items, std::unordered_set<Id>& types) {
    for (const auto& it : items) {
        types.insert(it.item_type_id);
        AddItems(it.items, types);
    }
}

std::vector<Id> Sorted(const std::unordered_set<Id>& s) {
    std::vector<Id> v(s.begin(), s.end());
    std::sort(v.begin(), v.end());
    return v;
}

}  // namespace

Referenced ReferencedBy(const std::vector<Killmail>& killmails) {
    std::unordered_set<Id> chars, corps, alliances, types;
    auto add = [](std::unordered_set<Id>& s, const std::optional<Id>& id) {
        if (id && *id > 0) s.insert(*id);
    };
    for (const auto& km : killmails) {
        const auto& v = km.victim;
        if (v.character_id && !IsNpcCharacter(*v.character_id)) chars.insert(*v.character_id);
        add(corps, v.corporation_id);
        add(alliances, v.alliance_id);
        if (v.ship_type_id > 0) types.insert(v.ship_type_id);
        AddItems(v.items, types);
        for (const auto& a : km.attackers) {
            if (a.character_id && !IsNpcCharacter(*a.character_id)) chars.insert(*a.character_id);
            add(corps, a.corporation_id);
            add(alliances, a.alliance_id);
            add(types, a.ship_type_id);
            add(types, a.weapon_type_id);
        }
    }
    return {Sorted(chars), Sorted(corps), Sorted(alliances), Sorted(types)};
}

}  // namespace kr::worker

#include "worker/publisher.hpp"

#include <algorithm>
#include <functional>
#include <unordered_set>

#include "core/entity_kind.hpp"
#include "core/time_format.hpp"
#include "queue/messages.hpp"
#include "store/tables.hpp"

namespace kr::worker {

std::size_t PublishIds(queue::Queue& q, const Clock& clock, const std::string& queue_name, const std::vector<Id>& ids,
                       std::uint8_t priority, const std::string& source, std::size_t batch, MessageFormat format) {
    if (ids.empty()) return 0;
    q.Declare(queue_name);
    std::vector<queue::OutMessage> out;
    out.reserve(std::min(batch, ids.size()));
    std::size_t published = 0;
    queue::EntityMessage m;
    m.source = source;
    for (std::size_t i = 0; i < ids.size(); ++i) {
        if (out.empty()) m.queued_at = IsoUtc(clock.NowMs());
        m.entity_id = ids[i];
        out.push_back({queue::BuildEntityMessage(m, format), priority, 0});
        if (out.size() == batch || i + 1 == ids.size()) {
            q.Publish(queue_name, out);
            published += out.size();
            out.clear();
        }
    }
    return published;
}

std::size_t PublishIds(queue::Queue& q, const Clock& clock, kr::EntityKind kind, const std::vector<Id>& ids,
                       std::uint8_t priority, const std::string& source, std::size_t batch) {
    return PublishIds(q, clock, KindInfo(kind).queue, ids, priority, source, batch, KindInfo(kind).message);
}

std::size_t PublishEntities(queue::Queue& q, store::Store& store, const Clock& clock, kr::EntityKind kind,
                            const std::vector<Id>& ids, std::uint8_t priority, const std::string& source,
                            std::size_t batch) {
    auto n = PublishIds(q, clock, kind, ids, priority, source, batch);
    if (n > 0) store.MarkPending(kind, ids);
    return n;
}

std::size_t PublishOutbox(queue::Queue& q, store::Store& store, const Clock& clock, std::uint8_t priority,
                          const std::string& source, std::size_t batch) {
    std::size_t n = 0;
    for (const auto& k : EntityKinds()) {
        for (Id after = 0;;) {
            Referenced recorded;
            recorded[k.kind] = store.ListEntityOutbox(k.kind, after, batch);
            if (recorded[k.kind].empty()) break;
            after = recorded[k.kind].back();
            n += PublishEntities(q, store, clock, k.kind, store.FilterMissing(k.kind, recorded[k.kind]), priority,
                                 source);
            store.ClearPublished(recorded, nullptr);
        }
    }
    return n;
}

namespace {

std::vector<Id> Sorted(const std::unordered_set<Id>& s) {
    std::vector<Id> v(s.begin(), s.end());
    std::sort(v.begin(), v.end());
    return v;
}

}  // namespace

Referenced ReferencedBy(std::span<const Killmail> killmails) {
    // What each row of the killmail refers to, by the store's table definitions (RefersTo).
    PerKind<std::unordered_set<Id>> sets;
    auto add = [&](EntityKind kind, Id id) {
        if (ShouldFetch(kind, id)) sets[kind].insert(id);
    };
    std::function<void(Id, const std::vector<KillmailItem>&)> add_items = [&](Id km, const auto& items) {
        for (const auto& item : items) {
            store::tables::Items().ForEachRef({km, item}, add);  // nested items refer like top-level ones
            add_items(km, item.items);
        }
    };
    for (const auto& km : killmails) {
        store::tables::Killmails().ForEachRef(km, add);
        store::tables::Victims().ForEachRef(km, add);
        for (const auto& a : km.attackers) store::tables::Attackers().ForEachRef({km.killmail_id, a}, add);
        add_items(km.killmail_id, km.victim.items);
    }
    Referenced out;
    for (const auto& k : EntityKinds()) out[k.kind] = Sorted(sets[k.kind]);
    return out;
}

}  // namespace kr::worker

#include "worker/live_worker.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <ctime>
#include <vector>

#include "core/errors.hpp"
#include "core/esi_json.hpp"
#include "core/text.hpp"
#include "core/time_format.hpp"
#include "log/log.hpp"

namespace kr::worker {

namespace {
constexpr std::uint8_t kEntityPriority = 5;
constexpr const char* kSource = "r2z2";

std::string HostName() {
    std::array<char, 256> host{};
    if (::gethostname(host.data(), host.size() - 1) != 0) host[0] = '\0';
    return host.data();
}

/// Whether `holder` ("host:pid") is a process of this host that is gone (kill -9, a crash): its
/// hold need not be waited out.
bool IsDeadLocalHolder(const std::string& holder) {
    const std::string prefix = HostName() + ":";
    if (holder.rfind(prefix, 0) != 0) return false;
    const std::string pid = holder.substr(prefix.size());
    if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos || pid.size() > 9) return false;
    return ::kill(static_cast<pid_t>(std::stol(pid)), 0) != 0 && errno == ESRCH;
}
}  // namespace

std::string LiveHolderName() { return HostName() + ":" + std::to_string(::getpid()); }

LiveWorker::LiveWorker(LiveWorkerOptions options, store::Store& store, queue::Queue& queue, esi::R2z2Client& r2z2,
                       const Clock& clock, push::KillmailEvents& events, Backfill* gap_repair,
                       Executor<store::Store>* committer)
    : options_(std::move(options)),
      store_(store),
      queue_(queue),
      r2z2_(r2z2),
      clock_(clock),
      events_(events),
      gap_repair_(gap_repair),
      committer_(committer) {
    if (options_.holder.empty()) options_.holder = LiveHolderName();
    options_.head_wait = std::max(options_.head_wait, std::chrono::milliseconds(6000));  // R2Z2's rule
    for (const auto& k : EntityKinds()) queue_.Declare(k.queue);
}

void LiveWorker::Run(std::stop_token stop, std::atomic<bool>* idle) {
    r2z2_.SetStopToken(stop);
    // The queue connection is idle while the feed is: keep it serviced (AMQP heartbeats).
    r2z2_.SetIdleHook([this] {
        for (const auto& stray : queue_.Poll(std::chrono::milliseconds(0), 1)) queue_.Release(stray);
    });
    while (!stop.stop_requested()) {
        Step step = Step::kFailed;
        try {
            step = Poll();
        } catch (const StoppedError&) {
            break;
        } catch (const FatalError&) {
            r2z2_.SetIdleHook(nullptr);
            throw;
        } catch (const std::exception& e) {
            spdlog::warn("redisq: {} (sequence {}); trying again", e.what(), cursor_);
            counters_.RecordError(kr::Truncate(e.what(), 500), clock_.NowMs());  // for `status`
            held_ = held_ && dynamic_cast<const store::LiveCursorLost*>(&e) == nullptr;
            try {
                Backoff();
            } catch (const StoppedError&) {
                break;
            }
        }
        // Idle: nothing to fetch now (at the head, held elsewhere, or R2Z2 / the database failing: a
        // `run --until-idle` must not wait for ever on a feed it cannot reach); not while a 429 or
        // a ban pauses a feed that has more.
        if (idle) idle->store(step != Step::kStored && step != Step::kPaused && !recover_);
        cursor_seen_.store(cursor_, std::memory_order_relaxed);
        Summary(step);
    }
    r2z2_.SetIdleHook(nullptr);
    try {
        DrainCommit();  // a batch on the committer is committed (and published) before letting go
    } catch (const std::exception& e) {
        spdlog::warn("redisq: the last batch was not stored ({}); the next start fetches it again", e.what());
    }
    if (held_) {
        try {
            store_.ReleaseLiveCursor(options_.feed, options_.holder);  // the next process starts at once
        } catch (const std::exception& e) {
            spdlog::warn("redisq: could not let go of the feed ({}); it is free in {} s", e.what(),
                         options_.hold.count() / 1000);
        }
    }
    spdlog::info("redisq: stopped at sequence {}; {} killmail(s) stored", cursor_, KillmailsStored());
}

void LiveWorker::Summary(Step step) {
    if (step == Step::kStored) ++summary_seen_;
    const std::int64_t now = clock_.NowMs();
    if (summary_at_ms_ == 0) summary_at_ms_ = now;
    if (now - summary_at_ms_ < 5000 || summary_seen_ == 0) return;
    spdlog::info("redisq: {} new killmail(s) stored ({} sequence(s)), next sequence {}{}",
                 KillmailsStored() - summary_stored_, summary_seen_, cursor_,
                 step == Step::kAtHead ? " (at the head)" : "");
    summary_at_ms_ = now;
    summary_stored_ = KillmailsStored();
    summary_seen_ = 0;
}

void LiveWorker::Backoff() {
    ++failures_;
    std::int64_t ms = 1000;
    for (int i = 1; i < failures_ && ms < options_.backoff_cap.count(); ++i) ms *= 2;
    r2z2_.Wait(std::chrono::milliseconds(std::min<std::int64_t>(ms, options_.backoff_cap.count())));
}

bool LiveWorker::Hold() {
    const std::int64_t now = clock_.NowMs();
    if (held_ && now < renew_at_ms_) return true;
    DrainCommit();  // the stored cursor is where the committed batches left it
    auto c = store_.HoldLiveCursor(options_.feed, options_.holder, options_.hold.count());
    if (c.holder && c.holder != options_.holder && IsDeadLocalHolder(*c.holder)) {
        // Only that holder's hold is let go of (another process may have taken it meanwhile).
        spdlog::info("redisq: {} held the {} feed and is gone; taking over", *c.holder, options_.feed);
        store_.ReleaseLiveCursor(options_.feed, *c.holder);
        c = store_.HoldLiveCursor(options_.feed, options_.holder, options_.hold.count());
    }
    if (c.holder != options_.holder) {
        held_ = false;
        const std::string other = c.holder.value_or("?");
        if (waiting_for_ != other) {
            spdlog::warn("redisq: the {} feed is held by {} (until {}); waiting to take over", options_.feed, other,
                         IsoUtc(c.held_until_ms));
            waiting_for_ = other;
        }
        const std::int64_t wait =
            std::clamp<std::int64_t>(c.held_until_ms - now + 100, 1000, 5000);  // a look every 5 s
        r2z2_.Wait(std::chrono::milliseconds(wait));
        return false;
    }
    if (!held_ && !waiting_for_.empty()) spdlog::info("redisq: took over the {} feed", options_.feed);
    waiting_for_.clear();
    held_ = true;
    renew_at_ms_ = now + options_.hold.count() / 3;
    if (c.sequence) cursor_ = *c.sequence;
    if (c.sequence && !options_.from && !options_.from_now) started_ = true;
    return true;
}

bool LiveWorker::Start() {
    if (started_) return true;
    std::int64_t at = 0;
    if (options_.from) {
        at = *options_.from;
    } else {
        const auto a = r2z2_.FetchSequence();
        if (a.status != esi::R2z2Answer::Status::kOk) {
            throw TransientError("R2Z2 sequence.json: " +
                                 (a.error.empty() ? "HTTP " + std::to_string(a.http_status) : a.error));
        }
        try {
            at = esi_json::ParseR2z2Sequence(a.body);
        } catch (const esi_json::ParseError& e) {
            throw TransientError(std::string("R2Z2 sequence.json: ") + e.what());
        }
    }
    if (!store_.SetLiveCursor(options_.feed, options_.holder, at)) {
        held_ = false;
        return false;
    }
    spdlog::info("redisq: the {} feed starts at sequence {}{}", options_.feed, at,
                 options_.from ? " (--from)" : " (sequence.json)");
    cursor_ = at;
    started_ = true;
    return true;
}

bool LiveWorker::RepairGap(std::int64_t sequence) {
    using Status = esi::R2z2Answer::Status;
    constexpr int kMaxGapDays = 31;
    auto unusable = [](const esi::R2z2Answer& a, const std::string& what) {
        return TransientError("R2Z2 " + what + ": " +
                              (a.error.empty() ? "HTTP " + std::to_string(a.http_status) : a.error));
    };
    const auto seq = r2z2_.FetchSequence();
    if (seq.status != Status::kOk) throw unusable(seq, "sequence.json");
    std::int64_t newest = 0;
    try {
        newest = esi_json::ParseR2z2Sequence(seq.body);
    } catch (const esi_json::ParseError& e) {
        throw TransientError(std::string("R2Z2 sequence.json: ") + e.what());
    }
    if (newest < sequence) return false;  // not uploaded yet: the head
    // Uploaded and gone. Bisection: `lo` answers 404, `hi` 200 (the oldest served once they meet).
    std::int64_t lo = sequence, hi = newest;
    auto top = r2z2_.FetchSequenceFile(hi);
    if (top.status == Status::kNotFound) return false;  // the feed moved under us: look again later
    if (top.status != Status::kOk) throw unusable(top, "sequence " + std::to_string(hi));
    while (hi - lo > 1) {
        const std::int64_t mid = lo + (hi - lo) / 2;
        auto a = r2z2_.FetchSequenceFile(mid);
        if (a.status == Status::kOk) {
            hi = mid;
            top = std::move(a);
        } else if (a.status == Status::kNotFound) {
            lo = mid;
        } else {
            throw unusable(a, "sequence " + std::to_string(mid));
        }
    }
    std::string day;
    try {
        day = esi_json::ParseR2z2Package(top.body).killmail.killmail_time.substr(0, 10);
    } catch (const esi_json::ParseError& e) {
        throw TransientError("R2Z2 sequence " + std::to_string(hi) + ": " + e.what());
    }
    const std::string gap = "gap: sequences " + std::to_string(sequence) + ".." + std::to_string(hi - 1) +
                            " expired from R2Z2 (" + std::to_string(hi - sequence) + ")";
    spdlog::warn("redisq: {}; repairing from zKillboard's history, from {} backwards", gap, day);
    if (!gap_repair_) {
        spdlog::error("redisq: no history repair in this process: the gap stays (run backfill)");
    } else {
        for (int i = 0; i < kMaxGapDays && day.size() == 10; ++i) {
            const auto days = Backfill::Days(day, day);
            store_.NoteLiveCursor(options_.feed, gap + "; backfilling " + day + " (day " + std::to_string(i + 1) + ")");
            const auto d = gap_repair_->Day(days.front());
            spdlog::info("redisq: {}: {} listed, {} stored before, {} stored now ({} from ESI), {} unfetchable", day,
                         d.listed, d.already, d.stored, d.from_esi, d.unfetchable);
            if (!d.dumped || d.already == d.listed) break;  // reached what the feed had stored
            // The day before.
            std::tm tm{};
            ::strptime(day.c_str(), "%Y-%m-%d", &tm);
            const std::time_t before = ::timegm(&tm) - 86400;
            ::gmtime_r(&before, &tm);
            char buf[16];
            std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
            day = buf;
        }
    }
    if (!store_.SetLiveCursor(options_.feed, options_.holder, hi)) {
        held_ = false;
        return true;  // another process holds the feed now
    }
    store_.NoteLiveCursor(options_.feed, "");
    spdlog::info("redisq: gap repaired; live polling goes on at sequence {}", hi);
    cursor_ = hi;
    return true;
}

LiveWorker::Step LiveWorker::Poll() {
    if (recover_) {
        const std::size_t n = PublishOutbox(queue_, store_, clock_, kEntityPriority, kSource);
        counters_.published += static_cast<std::int64_t>(n);
        recover_ = false;
    }
    if (!Hold()) return Step::kHeldElsewhere;
    if (!Start()) return Step::kHeldElsewhere;
    const Step step = Fetch(cursor_);
    if (step != Step::kFailed) failures_ = 0;
    return step;
}

void LiveWorker::AddPackage(std::int64_t sequence, const std::string& body, std::vector<Killmail>& killmails,
                            std::vector<Killmail>& revalued) {
    using Status = esi::R2z2Answer::Status;
    esi_json::R2z2Package pkg;
    try {
        pkg = esi_json::ParseR2z2Package(body);
    } catch (const esi_json::ParseError& e) {
        throw TransientError("R2Z2 sequence " + std::to_string(sequence) + ": unusable body: " + e.what());
    }
    const std::size_t had = revalued.size();
    if (pkg.sequence_updated) {
        auto again = r2z2_.FetchSequenceFile(*pkg.sequence_updated);
        if (again.status == Status::kOk) {
            try {
                auto updated = esi_json::ParseR2z2Package(again.body);
                if (updated.killmail.killmail_id == pkg.killmail.killmail_id) {
                    revalued.push_back(std::move(updated.killmail));
                }
            } catch (const esi_json::ParseError& e) {
                throw TransientError("R2Z2 sequence " + std::to_string(*pkg.sequence_updated) + ": " + e.what());
            }
        } else if (again.status != Status::kNotFound) {
            throw TransientError("R2Z2 sequence " + std::to_string(*pkg.sequence_updated) + " (updated): " +
                                 (again.error.empty() ? "HTTP " + std::to_string(again.http_status) : again.error));
        }
        if (revalued.size() == had) revalued.push_back(pkg.killmail);  // expired: the announcement's values
    }
    killmails.push_back(std::move(pkg.killmail));
}

LiveWorker::Step LiveWorker::Fetch(std::int64_t sequence) {
    using Status = esi::R2z2Answer::Status;
    if (head_next_) {  // the last batch ended at the head: R2Z2's ≥ 6 s before asking again
        head_next_ = false;
        r2z2_.Wait(options_.head_wait);
    }
    auto a = r2z2_.FetchSequenceFileAhead(sequence);
    if (a.status != Status::kOk) DrainCommit();  // what was fetched is committed before a wait
    switch (a.status) {
        case Status::kOk: break;
        case Status::kNotFound:
            if (!gap_checked_) {
                gap_checked_ = true;
                if (RepairGap(sequence)) return Step::kStored;
            }
            head_next_ = true;  // the next Fetch waits first
            return Step::kAtHead;
        case Status::kRateLimited:
            spdlog::debug("redisq: {}; paused {} s", a.error, a.retry_after.count() / 1000);
            return Step::kPaused;  // the next request waits for the shared pause
        case Status::kBanned:
            if (!banned_noted_) {
                const std::string note = "R2Z2 answered 403 (banned) at " + IsoUtc(clock_.NowMs()) + "; paused until " +
                                         IsoUtc(clock_.NowMs() + a.retry_after.count());
                spdlog::error("redisq: {}", note);
                store_.NoteLiveCursor(options_.feed, note);
                banned_noted_ = true;
            }
            return Step::kPaused;
        case Status::kFailed: throw TransientError("R2Z2 sequence " + std::to_string(sequence) + ": " + a.error);
    }
    // Catching up: the files that follow go into the same transaction (the cursor moves over all of
    // them at once), up to options_.batch, while R2Z2 has them; what stops a batch (the head, a 429,
    // an error) is left to the next Poll, which asks for that sequence again.
    std::vector<Killmail> killmails;
    std::vector<Killmail> revalued;
    AddPackage(sequence, a.body, killmails, revalued);  // throws for the first file: nothing stored
    std::int64_t next = sequence + 1;
    while (killmails.size() < options_.batch && clock_.NowMs() < renew_at_ms_) {  // the hold outlasts it
        auto more = r2z2_.FetchSequenceFileAhead(next);
        if (more.status == Status::kNotFound) head_next_ = true;
        if (more.status != Status::kOk) break;
        try {
            AddPackage(next, more.body, killmails, revalued);
        } catch (const TransientError&) {
            r2z2_.DropWindow();  // the next Poll asks for `next` again
            break;
        }
        ++next;
    }
    const bool full = killmails.size() >= options_.batch;
    auto c = std::make_unique<Commit>();
    c->from = sequence;
    c->to = next;
    const auto refs = ReferencedBy(killmails);
    for (const auto& k : EntityKinds()) {
        for (Id id : refs[k.kind]) {
            if (!seen_[k.kind].count(id)) c->unseen[k.kind].push_back(id);
        }
    }
    c->killmails = std::move(killmails);
    c->revalued = std::move(revalued);
    if (!committer_) {
        c->result = store_.StoreLivePage(c->killmails, c->unseen, StepOf(*c));
        cursor_ = next;
        Committed(*c);
        return Step::kStored;
    }
    // On the committer: this batch commits while the next one is fetched. One batch at a time:
    // the one before is collected first (its error stops this one), and handled (events, ids
    // published) while this one commits. A batch that did not fill up (the head, an error, the
    // hold to renew) is waited for at once: what the next Poll does starts from what is committed.
    const std::unique_ptr<Commit> done = CollectCommit();
    Commit* job = c.get();
    const store::LiveCursorStep step = StepOf(*job);
    committer_->Submit(
        [job, step](store::Store& s) { job->result = s.StoreLivePage(job->killmails, job->unseen, step); });
    pending_ = std::move(c);
    cursor_ = next;
    if (done) Committed(*done);
    if (!full) DrainCommit();
    return Step::kStored;
}

store::LiveCursorStep LiveWorker::StepOf(const Commit& c) const {
    return {options_.feed, options_.holder, c.from, c.to, options_.hold.count(), c.revalued};
}

std::unique_ptr<LiveWorker::Commit> LiveWorker::CollectCommit() {
    if (!pending_) return nullptr;
    std::optional<std::exception_ptr> outcome;
    while (!(outcome = committer_->Collect(std::chrono::milliseconds(1000)))) {}
    std::unique_ptr<Commit> c = std::move(pending_);
    if (*outcome) {
        cursor_ = c->from;  // nothing of it was written: fetched again
        r2z2_.DropWindow();
        std::rethrow_exception(*outcome);
    }
    return c;
}

void LiveWorker::DrainCommit() {
    if (auto c = CollectCommit()) Committed(*c);
}

void LiveWorker::Committed(const Commit& c) {
    const auto& result = c.result;
    events_.Stored(result.new_ids);  // committed: a redelivered killmail is not new, no event
    renew_at_ms_ = clock_.NowMs() + options_.hold.count() / 3;
    counters_.created += static_cast<std::int64_t>(result.inserted);
    counters_.processed += c.to - c.from;
    for (const auto& [id, why] : result.rejected) {
        spdlog::error("redisq: sequences {}..{}: killmail {} cannot be stored ({}); passed over", c.from, c.to - 1, id,
                      why);
    }
    if (banned_noted_) {
        store_.NoteLiveCursor(options_.feed, "");
        banned_noted_ = false;
    }
    try {
        Publish(c.unseen);
    } catch (const FatalError&) {
        throw;
    } catch (const std::exception& e) {
        recover_ = true;  // in kr_entity_outbox: published by the next Poll
        spdlog::warn("redisq: the ids of sequences {}..{} are not published yet ({})", c.from, c.to - 1, e.what());
    }
    spdlog::debug("redisq: sequences {}..{}: {} killmail(s) stored", c.from, c.to - 1, result.inserted);
    summary_seen_ += c.to - c.from - 1;  // Summary counts the step itself
}

void LiveWorker::Publish(const Referenced& recorded) {
    for (const auto& k : EntityKinds()) {
        if (recorded[k.kind].empty()) continue;
        const auto missing = store_.FilterMissing(k.kind, recorded[k.kind]);
        counters_.published += static_cast<std::int64_t>(
            PublishEntities(queue_, store_, clock_, k.kind, missing, kEntityPriority, kSource));
    }
    store_.ClearPublished(recorded, nullptr);
    for (const auto& k : EntityKinds()) {
        auto& seen = seen_[k.kind];
        if (seen.size() > 200'000) seen.clear();
        seen.insert(recorded[k.kind].begin(), recorded[k.kind].end());
    }
}

}  // namespace kr::worker

#pragma once
// A shared request budget whose database cannot be written (a full disk, a read-only file): every
// call throws kr::TransientError, and the clients fail closed (no request without a slot).
#include "core/errors.hpp"
#include "esi/rate_budget.hpp"

namespace kr::test {

class FullDiskBudget final : public esi::RateBudget {
public:
    esi::SlotGrant Reserve(const std::string&, std::int64_t, int) override { throw Full(); }
    esi::RateState Load(const std::string&) override { throw Full(); }
    esi::RateState Observe(const std::string&, const esi::Observation&) override { throw Full(); }
    std::vector<std::string> Keys() override { throw Full(); }
    using esi::RateBudget::TakePermit;
    esi::PermitGrant TakePermit(const std::string&, int, std::int64_t, const esi::PermitShare&) override {
        throw Full();
    }
    void ReleasePermit(const std::string&, std::int64_t, std::int64_t) override { throw Full(); }
    void MarkDemand(const std::string&, std::int64_t) override { throw Full(); }
    std::int64_t DemandUntil(const std::string&) override { throw Full(); }
    esi::OutageState LoadOutage(const std::string&) override { throw Full(); }
    esi::OutageState SuspectOutage(const std::string&, const std::string&, std::int64_t) override { throw Full(); }
    bool TakeProbeLease(const std::string&, std::int64_t) override { throw Full(); }
    esi::OutageState ProbeAnswered(const std::string&, bool, std::int64_t, std::int64_t) override { throw Full(); }
    void Spend(const std::string&, std::int64_t) override { throw Full(); }
    std::int64_t Spent(const std::string&, std::int64_t) override { throw Full(); }

private:
    static TransientError Full() { return TransientError("sqlite: step: database or disk is full"); }
};

}  // namespace kr::test

#include "store/pooled_store.hpp"

#include <algorithm>

#include "core/errors.hpp"

namespace kr::store {

StorePool::StorePool(std::string database_url, int size, const Clock& clock, StoreOptions options)
    : url_(std::move(database_url)), size_(std::max(1, size)), clock_(clock), options_(options) {}

StorePool::Lease StorePool::Acquire() {
    std::unique_lock lock(mu_);
    for (;;) {
        if (!idle_.empty()) {
            auto s = std::move(idle_.back());
            idle_.pop_back();
            return Lease(*this, std::move(s));
        }
        if (opened_ < size_) {
            ++opened_;
            lock.unlock();
            try {
                return Lease(*this, OpenStore(url_, clock_, options_));
            } catch (...) {
                std::lock_guard again(mu_);
                --opened_;
                throw;
            }
        }
        cv_.wait(lock);
    }
}

void StorePool::Return(std::unique_ptr<Store> store) {
    {
        std::lock_guard lock(mu_);
        if (store) {
            idle_.push_back(std::move(store));
        } else {
            --opened_;
        }
    }
    cv_.notify_one();
}

}  // namespace kr::store

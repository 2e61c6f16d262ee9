#pragma once
// A throw-away vhost on the test broker (scripts/servers.sh ctl = rabbitmqctl on the test node):
// the original's queue names are fixed, so each e2e test gets a vhost of its own.
#include <unistd.h>

#include <string>

#include <gtest/gtest.h>

#include "support/run.hpp"

namespace kr::test {

class TempVhost {
public:
    explicit TempVhost(const std::string& amqp_url) {
        name_ = "kr_e2e_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++);
        Ctl("add_vhost " + name_);
        Ctl("set_permissions -p " + name_ + " guest '.*' '.*' '.*'");
        auto slash = amqp_url.find('/', amqp_url.find("://") + 3);
        url_ = amqp_url.substr(0, slash) + "/" + name_;
    }
    ~TempVhost() { Ctl("delete_vhost " + name_); }
    TempVhost(const TempVhost&) = delete;
    TempVhost& operator=(const TempVhost&) = delete;

    const std::string& Url() const { return url_; }
    const std::string& Name() const { return name_; }

    /// rabbitmqctl ARGS against the test node (the fault suite restarts the broker, sets its memory
    /// alarm, lists a vhost's queues); a failure fails the test.
    static RunResult Ctl(const std::string& args) {
        auto r = RunCommand(std::string(KR_SOURCE_DIR) + "/scripts/servers.sh ctl " + args);
        if (r.exit_code != 0) ADD_FAILURE() << "rabbitmqctl " << args << ": " << r.err;
        return r;
    }

private:
    static inline int counter_ = 0;
    std::string name_, url_;
};

}  // namespace kr::test

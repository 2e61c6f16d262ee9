// queue::LeaseOwner: who holds a database-queue lease, and whether a process on the same host can
// tell that it is gone (no servers).
#include "queue/lease_owner.hpp"

#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <sys/wait.h>

#include "support/paused_child.hpp"

namespace kr::test {

using kr::queue::LeaseOwner;

namespace {

LeaseOwner Other(std::int64_t pid, std::int64_t started_at, std::string host = LeaseOwner::Self().host) {
    LeaseOwner o;
    o.host = std::move(host);
    o.pid = pid;
    o.started_at = started_at;
    o.id = o.host + "/" + std::to_string(pid) + "/" + std::to_string(started_at);
    return o;
}

}  // namespace

TEST(LeaseOwner, SelfIsThisProcessAndStable) {
    auto self = LeaseOwner::Self();
    EXPECT_EQ(self.pid, ::getpid());
    EXPECT_FALSE(self.host.empty());
    EXPECT_GT(self.started_at, 0);
    EXPECT_EQ(self.id, self.host + "/" + std::to_string(self.pid) + "/" + std::to_string(self.started_at));
    EXPECT_EQ(LeaseOwner::Self().id, self.id);
    EXPECT_FALSE(self.GoneFrom(self));
    EXPECT_EQ(LeaseOwner::ProcessStart(self.pid), std::optional<std::int64_t>(self.started_at));
}

TEST(LeaseOwner, AForkedChildIsAnotherOwner) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        ::close(fds[0]);
        auto id = LeaseOwner::Self().id;
        (void)!::write(fds[1], id.data(), id.size());
        ::_exit(0);
    }
    ::close(fds[1]);
    char buf[512];
    ssize_t n = ::read(fds[0], buf, sizeof buf);
    ::close(fds[0]);
    ::waitpid(child, nullptr, 0);
    ASSERT_GT(n, 0);
    std::string child_id(buf, static_cast<std::size_t>(n));
    EXPECT_NE(child_id, LeaseOwner::Self().id);
    EXPECT_NE(child_id.find("/" + std::to_string(child) + "/"), std::string::npos);
}

TEST(LeaseOwner, TellsAGoneProcessFromALiveOneOnThisHost) {
    const auto self = LeaseOwner::Self();
    PausedChild child;
    auto start = LeaseOwner::ProcessStart(child.Pid());
    ASSERT_TRUE(start.has_value());
    EXPECT_FALSE(Other(child.Pid(), *start).GoneFrom(self));          // alive
    EXPECT_TRUE(Other(child.Pid(), *start + 10).GoneFrom(self));      // its pid, another process
    EXPECT_FALSE(Other(child.Pid(), 1, "elsewhere").GoneFrom(self));  // another host: cannot tell
    child.Kill();
    // Killed but not reaped yet (a zombie): gone all the same.
    for (int i = 0; i < 100 && LeaseOwner::ProcessStart(child.Pid()); ++i) ::usleep(10000);
    EXPECT_TRUE(Other(child.Pid(), *start).GoneFrom(self));
    child.Reap();
    EXPECT_FALSE(LeaseOwner::ProcessStart(child.Pid()).has_value());
    EXPECT_TRUE(Other(child.Pid(), *start).GoneFrom(self));
    // A process before us that had our pid.
    EXPECT_TRUE(Other(self.pid, self.started_at - 1000).GoneFrom(self));
}

}  // namespace kr::test

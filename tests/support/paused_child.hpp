#pragma once
// A child process that does nothing until it is killed: a live "other process" on this host for
// tests of process liveness (database-queue lease owners).
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <sys/wait.h>

namespace kr::test {

class PausedChild {
public:
    PausedChild() : pid_(::fork()) {
        if (pid_ == 0) {
            for (;;) ::pause();
        }
        EXPECT_GT(pid_, 0) << "fork failed";
    }
    ~PausedChild() {
        Kill();
        Reap();
    }
    PausedChild(const PausedChild&) = delete;
    PausedChild& operator=(const PausedChild&) = delete;

    pid_t Pid() const { return pid_; }
    /// SIGKILL; until Reap() it stays a zombie.
    void Kill() {
        if (pid_ > 0 && !killed_) ::kill(pid_, SIGKILL);
        killed_ = true;
    }
    void Reap() {
        if (pid_ > 0 && !reaped_) ::waitpid(pid_, nullptr, 0);
        reaped_ = true;
    }

private:
    pid_t pid_;
    bool killed_ = false;
    bool reaped_ = false;
};

}  // namespace kr::test

#pragma once
// Shared helpers for tests that need servers. A missing server skips the test locally, and fails
// it when KR_REQUIRE_INTEGRATION=1 (set by the README's test command and CI).
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "db/connection.hpp"

namespace kr::test {

inline bool RequireIntegration() {
    const char* v = std::getenv("KR_REQUIRE_INTEGRATION");
    return v && std::string(v) == "1";
}

inline std::optional<std::string> EnvVar(const char* name) {
    const char* v = std::getenv(name);
    if (!v || !*v) return std::nullopt;
    return std::string(v);
}

/// Skips (or fails under KR_REQUIRE_INTEGRATION=1) when the variable is not set.
#define KR_REQUIRE_ENV(var, name)                                                   \
    auto var##_opt = ::kr::test::EnvVar(name);                                      \
    if (!var##_opt) {                                                               \
        if (::kr::test::RequireIntegration()) FAIL() << name " is not set";         \
        GTEST_SKIP() << name " is not set (run the tests through scripts/test.sh)"; \
    }                                                                               \
    const std::string var = *var##_opt

/// A throw-away PostgreSQL database, dropped at the end of the test.
class TempPgDatabase {
public:
    explicit TempPgDatabase(const std::string& admin_dsn) : admin_dsn_(admin_dsn) {
        static std::atomic<int> counter{0};
        name_ = "kr_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + "_" +
                std::to_string(std::rand() % 100000);
        auto admin = db::Open(admin_dsn_);
        admin->ExecScript("DROP DATABASE IF EXISTS " + name_);
        admin->ExecScript("CREATE DATABASE " + name_);
        auto slash = admin_dsn_.rfind('/');
        url_ = admin_dsn_.substr(0, slash + 1) + name_;
    }
    ~TempPgDatabase() {
        try {
            auto admin = db::Open(admin_dsn_);
            admin->ExecScript("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
        } catch (...) {}
    }
    const std::string& Url() const { return url_; }

private:
    std::string admin_dsn_, name_, url_;
};

/// A throw-away directory, removed with what it holds at the end of the test.
class TempDir {
public:
    TempDir() {
        char tmpl[] = "/tmp/kr_test_dir_XXXXXX";
        dir_ = ::mkdtemp(tmpl);
    }
    ~TempDir() { std::system(("rm -rf '" + dir_ + "'").c_str()); }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& Path() const { return dir_; }

private:
    std::string dir_;
};

/// A throw-away SQLite file in a temp dir, removed at the end of the test.
class TempSqliteFile {
public:
    TempSqliteFile() {
        char tmpl[] = "/tmp/kr_test_XXXXXX";
        dir_ = ::mkdtemp(tmpl);
        url_ = "sqlite://" + dir_ + "/test.db";
    }
    ~TempSqliteFile() { std::system(("rm -rf '" + dir_ + "'").c_str()); }
    const std::string& Url() const { return url_; }
    const std::string& Dir() const { return dir_; }

private:
    std::string dir_, url_;
};

}  // namespace kr::test

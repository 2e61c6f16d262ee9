// Small HTTP helpers shared by the fake-esi handlers: clock, dates, ETags, path parsing and
// ESI's JSON error body.
#pragma once

#include <httplib.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace fakeesi {

// ESI's content type for JSON bodies (zKillboard and /_admin use their own).
inline constexpr const char* kJson = "application/json; charset=UTF-8";

std::int64_t NowMs();  // wall clock, milliseconds since the epoch

std::string HttpDate(std::int64_t epoch_s);  // "Sun, 06 Nov 1994 08:49:37 GMT"
std::string IsoDate(std::int64_t epoch_s);   // "1994-11-06T08:49:37Z"

// A quoted content hash of body (two 64-bit FNV-1a variants): the same body, the same ETag.
std::string ETagOf(const std::string& body);
// Whether an If-None-Match header (a list, "*", weak tags, unquoted tags) matches etag.
bool EtagMatches(const std::string& header, const std::string& etag);

// A non-negative decimal id of at most 18 digits; false (out untouched) otherwise.
bool ParseId(std::string_view s, std::int64_t& out);
// The non-empty segments of a path: "/a//b/" -> {"a", "b"} (views into p).
std::vector<std::string_view> Split(std::string_view p);

// ESI's error answer: status and {"error": msg} as JSON.
void SetError(httplib::Response& res, int status, const std::string& msg);

}  // namespace fakeesi

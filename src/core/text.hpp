#pragma once
// Small text helpers shared by the modules.
#include <cstddef>
#include <string>
#include <string_view>

namespace kr {

/// `text` cut to at most `max_bytes` bytes, for a column or header with a size budget (error
/// texts: last_error, x-kr-last-error, HTTP bodies quoted in error messages).
/// - The result is never longer than `max_bytes`, and it ends at a character boundary: a UTF-8
///   sequence is kept whole or dropped whole.
/// - When it cut, the result ends with "…" (U+2026, 3 bytes), and the ellipsis COUNTS in the
///   budget. A budget below 3 bytes cuts without an ellipsis.
/// - The result is always valid UTF-8 without NUL (PostgreSQL rejects anything else in a text
///   column): each byte of `text` that is not part of a valid sequence (a stray continuation byte,
///   a sequence cut short, an overlong form, a surrogate, 0xF5..0xFF) and each NUL becomes U+FFFD (3 bytes, counted in
///   the budget like any other character).
std::string Truncate(std::string_view text, std::size_t max_bytes);

}  // namespace kr

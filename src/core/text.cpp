#include "core/text.hpp"

#include <algorithm>

namespace kr {

namespace {

constexpr std::string_view kEllipsis = "\xE2\x80\xA6";     // U+2026
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

/// Length of the well-formed UTF-8 sequence at the start of `s` (Unicode table 3-7), or 0 if `s`
/// does not start with one.
std::size_t SequenceLength(std::string_view s) {
    auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
    const unsigned char lead = byte(0);
    if (lead == 0x00) return 0;  // NUL: valid UTF-8, but PostgreSQL text rejects it
    if (lead < 0x80) return 1;
    std::size_t n = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // the range of the second byte
    if (lead >= 0xC2 && lead <= 0xDF) {
        n = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        n = 3;
        if (lead == 0xE0) lo = 0xA0;  // no overlong forms
        if (lead == 0xED) hi = 0x9F;  // no surrogates
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        n = 4;
        if (lead == 0xF0) lo = 0x90;  // no overlong forms
        if (lead == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
    } else {
        return 0;  // a continuation byte, 0xC0, 0xC1, 0xF5..0xFF
    }
    if (s.size() < n || byte(1) < lo || byte(1) > hi) return 0;
    for (std::size_t i = 2; i < n; ++i) {
        if ((byte(i) & 0xC0) != 0x80) return 0;
    }
    return n;
}

}  // namespace

std::string Truncate(std::string_view text, std::size_t max_bytes) {
    const bool with_ellipsis = max_bytes >= kEllipsis.size();
    const std::size_t room_before_ellipsis = with_ellipsis ? max_bytes - kEllipsis.size() : max_bytes;
    std::string out;
    out.reserve(std::min(text.size(), max_bytes));
    std::size_t cut_at = 0;  // the longest prefix of `out` (whole characters) that leaves room for "…"
    for (std::size_t i = 0; i < text.size();) {
        const std::size_t n = SequenceLength(text.substr(i));
        const std::string_view character = n ? text.substr(i, n) : kReplacement;
        if (out.size() + character.size() > max_bytes) {
            out.resize(cut_at);
            if (with_ellipsis) out += kEllipsis;
            return out;
        }
        out += character;
        if (out.size() <= room_before_ellipsis) cut_at = out.size();
        i += n ? n : 1;
    }
    return out;
}

}  // namespace kr

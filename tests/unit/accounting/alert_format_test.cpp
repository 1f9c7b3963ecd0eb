// The "provider full" email: what it says, and that it is a well-formed multipart/alternative
// message (CRLF lines no longer than 78 characters, both parts, no header injection).
#include "wharf/storage/alerts.hpp"

#include <gtest/gtest.h>

#include <sstream>

namespace s = wharf::storage;

namespace {

const auto at = std::chrono::sys_days{std::chrono::year{2026} / 11 / 21} + std::chrono::hours(6) +
                std::chrono::minutes(30);

s::full_crossing crossing() { return s::full_crossing{"s3-main", 5'368'709'120ull, 5'368'709'120ull, 1, 0}; }

std::vector<std::string> crlf_lines(const std::string& m) {
    std::vector<std::string> lines;
    std::size_t start = 0;
    for (;;) {
        const auto end = m.find("\r\n", start);
        if (end == std::string::npos) {
            lines.push_back(m.substr(start));
            return lines;
        }
        lines.push_back(m.substr(start, end - start));
        start = end + 2;
    }
}

}  // namespace

TEST(alert_format, names_provider_usage_and_limit_in_both_parts) {
    const auto e = s::format_full_alert(crossing(), at);
    EXPECT_EQ(e.subject, "[wharf] storage provider \"s3-main\" is full (100.0% of 5.00 GiB)");
    for (const auto* part : {&e.text, &e.html}) {
        EXPECT_NE(part->find("s3-main"), std::string::npos);
        EXPECT_NE(part->find("5368709120 bytes (5.00 GiB)"), std::string::npos);
        EXPECT_NE(part->find("2026-11-21T06:30:00Z"), std::string::npos);
    }
    EXPECT_NE(e.text.find("Usage:    5368709120 bytes"), std::string::npos);
    EXPECT_NE(e.html.find("<strong>s3-main</strong>"), std::string::npos);
}

TEST(alert_format, html_escapes_the_provider_name) {
    auto c = crossing();
    c.provider = "<b>&x";
    const auto e = s::format_full_alert(c, at);
    EXPECT_EQ(e.html.find("<b>&x"), std::string::npos);
    EXPECT_NE(e.html.find("&lt;b&gt;&amp;x"), std::string::npos);
}

TEST(alert_format, message_is_multipart_alternative_plain_then_html) {
    const auto e = s::format_full_alert(crossing(), at);
    const auto m = s::render_message(e, "wharf@example.org", {"ops@example.org", "Oncall <pager@example.org>"}, at,
                                     "=_b0undary", "id1@example.org");
    EXPECT_EQ(m.rfind("Date: Sat, 21 Nov 2026 06:30:00 +0000\r\n", 0), 0u);
    EXPECT_NE(m.find("\r\nFrom: <wharf@example.org>\r\n"), std::string::npos);
    EXPECT_NE(m.find("\r\nTo: <ops@example.org>, Oncall <pager@example.org>\r\n"), std::string::npos);
    EXPECT_NE(m.find("\r\nMessage-ID: <id1@example.org>\r\n"), std::string::npos);
    EXPECT_NE(m.find("\r\nMIME-Version: 1.0\r\n"), std::string::npos);
    EXPECT_NE(m.find("Content-Type: multipart/alternative; boundary=\"=_b0undary\"\r\n"), std::string::npos);
    const auto plain = m.find("--=_b0undary\r\nContent-Type: text/plain; charset=UTF-8\r\n");
    const auto html = m.find("--=_b0undary\r\nContent-Type: text/html; charset=UTF-8\r\n");
    ASSERT_NE(plain, std::string::npos);
    ASSERT_NE(html, std::string::npos);
    EXPECT_LT(plain, html);
    EXPECT_NE(m.find("\r\n--=_b0undary--\r\n"), std::string::npos);
    // Headers end at the first empty line, before any part.
    EXPECT_LT(m.find("\r\n\r\n"), plain);
}

TEST(alert_format, lines_are_crlf_and_short_and_bodies_quoted_printable) {
    auto e = s::format_full_alert(crossing(), at);
    e.text += std::string(200, 'x') + " trailing space \nnon-ascii: \xc3\xa9 equals: =\n";
    const auto m = s::render_message(e, "a@b", {"c@d"}, at, "=_b", "x@b");
    for (const auto& line : crlf_lines(m)) {
        EXPECT_LE(line.size(), 78u) << line;
        EXPECT_EQ(line.find('\n'), std::string::npos);
        EXPECT_EQ(line.find('\r'), std::string::npos);
    }
    EXPECT_NE(m.find("non-ascii: =C3=A9 equals: =3D"), std::string::npos);
    EXPECT_NE(m.find("trailing space=20\r\n"), std::string::npos);
}

TEST(alert_format, header_values_cannot_inject_headers) {
    s::email e{"hi\r\nBcc: victim@example.org", "t", "h"};
    const auto m = s::render_message(e, "a@b\r\nX-Evil: 1", {"c@d"}, at, "=_b", "x@b");
    EXPECT_EQ(m.find("\r\nBcc:"), std::string::npos);
    EXPECT_EQ(m.find("\r\nX-Evil:"), std::string::npos);
}

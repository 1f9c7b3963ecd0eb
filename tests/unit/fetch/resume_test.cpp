// Resume decisions without a server: what to ask for, and what each answer means for the bytes
// already on disk; Content-Range; the sidecar.
#include "wharf/fetch/resume.hpp"

#include <gtest/gtest.h>

namespace fetch = wharf::fetch;
using fetch::resume_action;

namespace {

const fetch::range_request asked{1000, "\"v1\""};

fetch::resume_decision answer(int status, std::optional<std::string_view> range = std::nullopt,
                              std::optional<std::uint64_t> length = std::nullopt, std::string_view encoding = "") {
    return fetch::decide_resume(asked, status, range, length, encoding);
}

}  // namespace

TEST(fetch_resume, a_range_needs_bytes_and_a_strong_validator) {
    EXPECT_FALSE(fetch::plan_resume({0, {"\"v1\"", std::nullopt}, std::nullopt}));
    EXPECT_EQ(fetch::plan_resume({10, {"\"v1\"", "Mon, 01 Jan 2024 00:00:00 GMT"}, 100}), (fetch::range_request{10, "\"v1\""}));
    EXPECT_EQ(fetch::plan_resume({10, {"W/\"weak\"", "Mon, 01 Jan 2024 00:00:00 GMT"}, std::nullopt}),
              (fetch::range_request{10, "Mon, 01 Jan 2024 00:00:00 GMT"}));
    EXPECT_FALSE(fetch::plan_resume({10, {"W/\"weak\"", std::nullopt}, std::nullopt}));
    EXPECT_FALSE(fetch::plan_resume({10, {}, std::nullopt}));
    EXPECT_FALSE(fetch::plan_resume({101, {"\"v1\"", std::nullopt}, 100}));  // more than the whole
    EXPECT_EQ(fetch::plan_resume({100, {"\"v1\"", std::nullopt}, 100}), (fetch::range_request{100, "\"v1\""}));  // -> 416
    EXPECT_FALSE(fetch::plan_resume({10, {"\"a\r\nX-Evil: 1\"", std::nullopt}, std::nullopt}));  // no header injection
}

TEST(fetch_resume, each_answer_to_a_ranged_request) {
    auto d = answer(206, "bytes 1000-4999/5000", 4000);
    EXPECT_EQ(d.action, resume_action::append);
    EXPECT_EQ(d.offset, 1000u);
    EXPECT_EQ(d.total, 5000u);
    EXPECT_EQ(answer(206, "bytes 1000-4999/*", 4000).total, std::nullopt);

    d = answer(200, std::nullopt, 5000);  // the validator changed: start over
    EXPECT_EQ(d.action, resume_action::write_from_zero);
    EXPECT_EQ(d.offset, 0u);
    EXPECT_EQ(d.total, 5000u);
    EXPECT_FALSE(d.reason.empty());
    EXPECT_EQ(answer(200, std::nullopt, 5000, "gzip").total, std::nullopt);  // an encoded length is not the total

    d = answer(416, "bytes */1000");  // everything is there: verify it
    EXPECT_EQ(d.action, resume_action::verify_existing);
    EXPECT_EQ(d.offset, 1000u);
    EXPECT_EQ(d.total, 1000u);

    EXPECT_EQ(answer(416, "bytes */999").action, resume_action::restart);  // it changed size
    EXPECT_EQ(answer(416).action, resume_action::restart);
    EXPECT_EQ(answer(206, "bytes 0-4999/5000", 5000).action, resume_action::restart);  // another range
    EXPECT_EQ(answer(206, "bytes 1000-4999/5000", 10).action, resume_action::restart);  // lengths disagree
    EXPECT_EQ(answer(206).action, resume_action::restart);
    EXPECT_EQ(answer(206, "bytes 1000-4999/5000", 4000, "gzip").action, resume_action::restart);
    EXPECT_EQ(answer(206, "bytes */5000").action, resume_action::restart);
}

TEST(fetch_resume, answers_to_a_request_from_zero) {
    const auto d = fetch::decide_resume(std::nullopt, 200, std::nullopt, 77, "identity");
    EXPECT_EQ(d.action, resume_action::write_from_zero);
    EXPECT_EQ(d.total, 77u);
    EXPECT_TRUE(d.reason.empty());
    EXPECT_EQ(fetch::decide_resume(std::nullopt, 206, "bytes 0-1/2", 2, "").action, resume_action::restart);
}

TEST(fetch_resume, content_range_is_parsed_strictly) {
    EXPECT_EQ(fetch::parse_content_range("bytes 0-99/1234"), (fetch::content_range{0, 99, 1234}));
    EXPECT_EQ(fetch::parse_content_range("bytes  5-5/*"), (fetch::content_range{5, 5, std::nullopt}));
    EXPECT_EQ(fetch::parse_content_range("bytes */1234"), (fetch::content_range{std::nullopt, std::nullopt, 1234}));
    EXPECT_EQ(fetch::parse_content_range("bytes 0-9999999999999999999/*"),
              (fetch::content_range{0, 9999999999999999999ull, std::nullopt}));
    for (const auto* bad : {"", "bytes", "bytes ", "items 0-1/2", "bytes 5-4/10", "bytes 0-10/10", "bytes -1-2/3",
                            "bytes +1-2/3", "bytes 0-1/2 ", "bytes 0-1/2,3-4/5", "bytes */*", "bytes 1/2",
                            "bytes 0-99999999999999999999/*", "bytes 0x1-2/3", "bytes0-1/2", "bytes 0 - 1/2"}) {
        SCOPED_TRACE(bad);
        EXPECT_FALSE(fetch::parse_content_range(bad));
    }
    EXPECT_FALSE(fetch::parse_content_range("bytes 0-1/" + std::string(200, '9')));
}

TEST(fetch_resume, the_sidecar_round_trips_and_refuses_anything_else) {
    const fetch::sidecar s{std::string(64, 'a'), {"\"etag-1\"", "Tue, 02 Jan 2024 03:04:05 GMT"}, 123456};
    EXPECT_EQ(fetch::decode_sidecar(fetch::encode_sidecar(s)), s);
    const fetch::sidecar bare{std::string(64, '0'), {}, std::nullopt};
    EXPECT_EQ(fetch::decode_sidecar(fetch::encode_sidecar(bare)), bare);
    for (const auto* bad : {"", "{}", "[]", "null", R"({"v":2,"url":"aaaa"})",
                            R"({"v":1,"url":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"})",
                            R"({"v":1,"url":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","total":-1})",
                            R"({"v":1,"url":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","etag":"a\nb"})",
                            R"({"v":1,"url":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","etag":{"x":1}})",
                            R"({"v":1,"url":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","more":1})"}) {
        SCOPED_TRACE(bad);
        EXPECT_FALSE(fetch::decode_sidecar(bad));
    }
    EXPECT_FALSE(fetch::decode_sidecar(std::string(fetch::max_sidecar_bytes + 1, ' ')));
}

// The envelope decoder: every field's rules, the reason each bad input gets, and round trips.
#include "wharf/queue/envelope.hpp"

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

namespace q = wharf::queue;
using json = nlohmann::json;
using namespace std::chrono;

namespace {

q::envelope ok(std::string_view text, std::string_view queue = "download") {
    auto r = q::decode(text, queue);
    if (auto* err = std::get_if<q::decode_error>(&r)) {
        ADD_FAILURE() << "decode failed: " << err->reason << " for " << text;
        return {};
    }
    return std::get<q::envelope>(r);
}

std::string reason(std::string_view text, std::string_view queue = "download") {
    auto r = q::decode(text, queue);
    if (auto* err = std::get_if<q::decode_error>(&r)) return err->reason;
    ADD_FAILURE() << "decode succeeded for " << text;
    return {};
}

}  // namespace

TEST(envelope_decode, minimal_envelope_gets_defaults) {
    const auto e = ok(R"({"payload":{"url":"http://x/a.mp4"}})");
    EXPECT_EQ(e.version, 1);
    EXPECT_EQ(e.type, "download");
    EXPECT_EQ(json::parse(e.payload_json), json::parse(R"({"url":"http://x/a.mp4"})"));
    EXPECT_FALSE(e.id);
    EXPECT_FALSE(e.api_key);
    EXPECT_FALSE(e.max_attempts);
    EXPECT_FALSE(e.timeout_s);
    EXPECT_FALSE(e.run_at);
    EXPECT_FALSE(e.parent_id);
    EXPECT_EQ(e.attempt, 1);
    EXPECT_FALSE(e.token);
    EXPECT_EQ(e.extra_json, "{}");
}

TEST(envelope_decode, reads_every_known_field) {
    const auto e = ok(R"({"v":1,"type":"download","payload":{"a":[1,2]},"id":"order-42:a.b_c",
        "api_key":"tenant-1","max_attempts":7,"timeout_s":120,"run_at":"2030-01-02T03:04:05.250+01:00",
        "parent_id":"1700000000000-0","attempt":3,"_token":"1699999999999-5","_gen":2})");
    EXPECT_EQ(e.id, "order-42:a.b_c");
    EXPECT_EQ(e.api_key, "tenant-1");
    EXPECT_EQ(e.max_attempts, 7);
    EXPECT_EQ(e.timeout_s, 120);
    ASSERT_TRUE(e.run_at);
    EXPECT_EQ(*e.run_at, *q::parse_rfc3339("2030-01-02T02:04:05.250Z"));
    EXPECT_EQ(e.parent_id, "1700000000000-0");
    EXPECT_EQ(e.attempt, 3);
    EXPECT_EQ(e.token, "1699999999999-5");
    EXPECT_EQ(e.generation, 2);
}

TEST(envelope_decode, null_optional_fields_mean_absent) {
    const auto e = ok(R"({"payload":{},"id":null,"api_key":null,"max_attempts":null,"run_at":null,"v":null})");
    EXPECT_FALSE(e.id);
    EXPECT_FALSE(e.api_key);
    EXPECT_FALSE(e.max_attempts);
    EXPECT_FALSE(e.run_at);
    EXPECT_EQ(e.version, 1);
}

TEST(envelope_decode, integral_floats_are_integers) {
    EXPECT_EQ(ok(R"({"payload":{},"max_attempts":3.0})").max_attempts, 3);
    EXPECT_EQ(reason(R"({"payload":{},"max_attempts":3.5})"), "max_attempts: must be an integer from 1 to 100");
}

TEST(envelope_decode, refuses_text_that_is_not_json) {
    EXPECT_TRUE(reason("").starts_with("not JSON: ")) << reason("");
    EXPECT_TRUE(reason("{").starts_with("not JSON: "));
    EXPECT_TRUE(reason("{\"payload\":{}} trailing").starts_with("not JSON: "));
    EXPECT_TRUE(reason("hello").starts_with("not JSON: "));
    // The parser's position survives; the library's exception tag does not.
    EXPECT_NE(reason("{\"payload\":").find("line 1"), std::string::npos);
    EXPECT_EQ(reason("{\"payload\":").find("[json.exception"), std::string::npos);
    EXPECT_TRUE(reason("{\"payload\":{\"a\":\"\xff\"}}").starts_with("not JSON: "));
}

TEST(envelope_decode, refuses_json_that_is_not_an_object) {
    for (const char* text : {"[]", "[1]", "42", "\"x\"", "null", "true"})
        EXPECT_EQ(reason(text), "envelope: must be a JSON object") << text;
}

TEST(envelope_decode, payload_is_a_required_object) {
    EXPECT_EQ(reason(R"({})"), "payload: required");
    EXPECT_EQ(reason(R"({"id":"a"})"), "payload: required");
    for (const char* text : {R"({"payload":null})", R"({"payload":[]})", R"({"payload":"{}"})", R"({"payload":1})"})
        EXPECT_EQ(reason(text), "payload: must be a JSON object") << text;
}

TEST(envelope_decode, version_absent_is_1_and_newer_is_refused) {
    EXPECT_EQ(ok(R"({"v":1,"payload":{}})").version, 1);
    const auto r = reason(R"({"v":2,"payload":{}})");
    EXPECT_TRUE(r.starts_with("v: envelope version 2 is newer")) << r;
    EXPECT_EQ(reason(R"({"v":0,"payload":{}})"), "v: must be a positive integer");
    EXPECT_EQ(reason(R"({"v":"1","payload":{}})"), "v: must be a positive integer");
    EXPECT_EQ(reason(R"({"v":1.5,"payload":{}})"), "v: must be a positive integer");
}

TEST(envelope_decode, type_must_equal_the_queue) {
    EXPECT_EQ(ok(R"({"type":"download","payload":{}})").type, "download");
    EXPECT_EQ(reason(R"({"type":"transcode","payload":{}})"),
              "type: \"transcode\" does not match the queue \"download\"");
    EXPECT_EQ(reason(R"({"type":7,"payload":{}})"), "type: must be a string");
}

TEST(envelope_decode, id_charset_and_length) {
    EXPECT_EQ(ok(R"({"payload":{},"id":"A-z_0.9:x"})").id, "A-z_0.9:x");
    EXPECT_EQ(ok(R"({"payload":{},"id":")" + std::string(128, 'x') + "\"}").id, std::string(128, 'x'));
    const std::string expected = "id: 1-128 characters of [A-Za-z0-9._:-]";
    EXPECT_EQ(reason(R"({"payload":{},"id":""})"), expected);
    EXPECT_EQ(reason(R"({"payload":{},"id":")" + std::string(129, 'x') + "\"}"), expected);
    for (const char* bad : {"a b", "a/b", "a{b}", "é", "a\\nb", "*"})
        EXPECT_EQ(reason(std::string(R"({"payload":{},"id":")") + bad + "\"}"), expected) << bad;
    EXPECT_EQ(reason(R"({"payload":{},"id":42})"), expected);
}

TEST(envelope_decode, api_key_is_a_string) {
    EXPECT_EQ(reason(R"({"payload":{},"api_key":1})"), "api_key: must be a string");
}

TEST(envelope_decode, max_attempts_range) {
    EXPECT_EQ(ok(R"({"payload":{},"max_attempts":1})").max_attempts, 1);
    EXPECT_EQ(ok(R"({"payload":{},"max_attempts":100})").max_attempts, 100);
    for (const char* bad : {"0", "101", "-1", "\"3\"", "true", "1e300", "18446744073709551615"})
        EXPECT_EQ(reason(std::string(R"({"payload":{},"max_attempts":)") + bad + "}"),
                  "max_attempts: must be an integer from 1 to 100")
            << bad;
}

TEST(envelope_decode, timeout_range) {
    EXPECT_EQ(ok(R"({"payload":{},"timeout_s":604800})").timeout_s, 604800);
    EXPECT_EQ(reason(R"({"payload":{},"timeout_s":604801})"), "timeout_s: must be an integer from 1 to 604800");
    EXPECT_EQ(reason(R"({"payload":{},"timeout_s":0})"), "timeout_s: must be an integer from 1 to 604800");
}

TEST(envelope_decode, run_at_must_be_rfc3339) {
    EXPECT_TRUE(ok(R"({"payload":{},"run_at":"2030-01-01T00:00:00Z"})").run_at);
    EXPECT_EQ(reason(R"({"payload":{},"run_at":"tomorrow"})"),
              "run_at: \"tomorrow\" is not an RFC 3339 timestamp (e.g. 2030-01-02T03:04:05Z)");
    EXPECT_EQ(reason(R"({"payload":{},"run_at":1700000000})"), "run_at: must be an RFC 3339 timestamp string");
}

TEST(envelope_decode, internal_fields_are_checked) {
    EXPECT_EQ(reason(R"({"payload":{},"attempt":0})"), "attempt: must be an integer from 1 to 1000000");
    EXPECT_EQ(reason(R"({"payload":{},"_token":""})"), "_token: must be a string of 1-128 characters");
    EXPECT_EQ(reason(R"({"payload":{},"_token":5})"), "_token: must be a string of 1-128 characters");
    EXPECT_EQ(reason(R"({"payload":{},"_gen":-1})"), "_gen: must be an integer from 0 to 1000000");
    EXPECT_EQ(reason(R"({"payload":{},"_gen":"1"})"), "_gen: must be an integer from 0 to 1000000");
    EXPECT_EQ(reason(R"({"payload":{},"parent_id":"a b"})"), "parent_id: 1-128 characters of [A-Za-z0-9._:-]");
}

TEST(envelope_decode, refuses_oversized_envelopes) {
    const std::string big = R"({"payload":{"x":")" + std::string(9 * 1024 * 1024, 'a') + "\"}}";
    EXPECT_TRUE(reason(big).starts_with("envelope: larger than"));
}

// A producer's payload nested 200,000 levels deep used to crash every worker that decoded it.
TEST(envelope_decode, refuses_envelopes_nested_too_deeply) {
    std::string deep = R"({"payload":{"x":)" + std::string(200'000, '[') + std::string(200'000, ']') + "}}";
    EXPECT_EQ(reason(deep), "envelope: nested deeper than 64 levels");
    // The limit counts the envelope (1) and the payload (2): 62 levels inside the payload pass.
    std::string at_limit = R"({"payload":{"x":)" + std::string(62, '[') + std::string(62, ']') + "}}";
    EXPECT_EQ(ok(at_limit).payload_json.size(), std::string(R"({"x":})").size() + 124);
    std::string over = R"({"payload":{"x":)" + std::string(63, '[') + std::string(63, ']') + "}}";
    EXPECT_EQ(reason(over), "envelope: nested deeper than 64 levels");
    // Deep unknown fields are refused the same way.
    EXPECT_EQ(reason(R"({"payload":{},"meta":)" + std::string(100, '[') + std::string(100, ']') + "}"),
              "envelope: nested deeper than 64 levels");
}

// 1e999999 is out of double's range: nlohmann throws out_of_range for it, which used to escape
// the decoder and the job coroutine.
TEST(envelope_decode, numbers_out_of_range_are_refused_with_a_reason) {
    for (const char* text : {R"({"payload":{"n":1e999999}})", R"({"payload":{},"max_attempts":-1e400})",
                             R"({"payload":{},"extra":[1e309]})"}) {
        std::string why;
        EXPECT_NO_THROW(why = reason(text)) << text;
        EXPECT_TRUE(why.starts_with("not JSON: number overflow")) << why;
    }
}

TEST(envelope_decode, reasons_quote_at_most_64_characters_of_the_input) {
    const std::string long_type(100'000, 't');
    const auto why = reason(R"({"payload":{},"type":")" + long_type + R"("})");
    EXPECT_LT(why.size(), 200u) << why;
    EXPECT_NE(why.find("(100000 bytes)"), std::string::npos) << why;
    const auto why2 = reason(R"({"payload":{},"run_at":")" + long_type + R"("})");
    EXPECT_LT(why2.size(), 200u) << why2;
}

TEST(envelope_encode, unknown_fields_are_kept_verbatim) {
    const auto e = ok(R"({"payload":{"k":1},"trace":{"span":"abc","n":[1,2.5,null]},"priority":3})");
    EXPECT_EQ(json::parse(e.extra_json), json::parse(R"({"trace":{"span":"abc","n":[1,2.5,null]},"priority":3})"));
    const json out = json::parse(q::encode(e));
    EXPECT_EQ(out["trace"], json::parse(R"({"span":"abc","n":[1,2.5,null]})"));
    EXPECT_EQ(out["priority"], 3);
    EXPECT_EQ(out["payload"], json::parse(R"({"k":1})"));
    EXPECT_EQ(out["v"], 1);
}

TEST(envelope_encode, round_trip_keeps_every_field) {
    const std::string text = R"({"v":1,"type":"download","payload":{"a":{"b":[true,"x"]}},"id":"j1",
        "api_key":"k","max_attempts":5,"timeout_s":30,"run_at":"2030-01-02T03:04:05.678Z",
        "parent_id":"p1","attempt":2,"_token":"1-1","_gen":1,"custom":"kept"})";
    const auto first = ok(text);
    const std::string encoded = q::encode(first);
    const auto second = ok(encoded);
    EXPECT_EQ(q::encode(second), encoded);
    EXPECT_EQ(json::parse(encoded), json::parse(text));
}

TEST(envelope_encode, omits_what_is_absent_and_defaults) {
    q::envelope e;
    e.type = "noop";
    const json out = json::parse(q::encode(e));
    EXPECT_EQ(out, json::parse(R"({"v":1,"type":"noop","payload":{}})"));
}

TEST(envelope_encode, run_at_is_utc_with_milliseconds) {
    q::envelope e;
    e.run_at = system_clock::time_point{milliseconds{1'700'000'000'123}};
    EXPECT_EQ(json::parse(q::encode(e))["run_at"], "2023-11-14T22:13:20.123Z");
}

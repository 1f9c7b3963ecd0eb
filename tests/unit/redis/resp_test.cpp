// RESP framing with no sockets: the formatter against hiredis's, the reader on tricky replies
// fed in every possible split.
#include "wharf/redis/connection.hpp"
#include "wharf/redis/detail/resp.hpp"

#include <hiredis/hiredis.h>

#include <gtest/gtest.h>

#include <cstdlib>

namespace {

namespace redis = wharf::redis;
using redis::reply;
using redis::detail::resp_reader;
using namespace std::string_literals;

std::vector<reply> parse_all(resp_reader& r) {
    std::vector<reply> out;
    while (auto x = r.next()) out.push_back(std::move(*x));
    return out;
}

// Feeds `wire` in pieces of `step` bytes, collecting replies as they complete.
std::vector<reply> parse_in_steps(std::string_view wire, std::size_t step) {
    resp_reader r;
    std::vector<reply> out;
    for (std::size_t i = 0; i < wire.size(); i += step) {
        r.feed(wire.data() + i, std::min(step, wire.size() - i));
        for (auto& x : parse_all(r)) out.push_back(std::move(x));
    }
    EXPECT_EQ(r.buffered(), 0u);
    return out;
}

TEST(resp_format, matches_hiredis_byte_for_byte) {
    const std::vector<std::vector<std::string>> commands = {
        {"PING"},
        {"SET", "key", "value"},
        {"SET", "k", ""},
        {"XADD", "wharf:{q}:stream", "*", "job", std::string("{\"a\":\"\r\n\0\"}", 12)},
        {"EVALSHA", std::string(40, 'f'), "2", "k1", "k2", std::string(100000, 'z')},
    };
    for (const auto& cmd : commands) {
        std::vector<const char*> argv;
        std::vector<size_t> lens;
        for (const auto& a : cmd) {
            argv.push_back(a.data());
            lens.push_back(a.size());
        }
        char* target = nullptr;
        const int len = redisFormatCommandArgv(&target, static_cast<int>(argv.size()), argv.data(), lens.data());
        ASSERT_GT(len, 0);
        const std::string expected(target, static_cast<std::size_t>(len));
        std::free(target);
        std::string ours = "prefix";
        redis::detail::append_command(ours, cmd);
        EXPECT_EQ(ours, "prefix" + expected);
    }
}

TEST(resp_reader, scalars) {
    resp_reader r;
    const std::string wire = "+OK\r\n-ERR wrong\r\n:-7\r\n$3\r\nabc\r\n$-1\r\n$0\r\n\r\n";
    r.feed(wire.data(), wire.size());
    auto out = parse_all(r);
    ASSERT_EQ(out.size(), 6u);
    EXPECT_EQ(out[0].kind(), reply::type::status);
    EXPECT_EQ(out[0].str(), "OK");
    EXPECT_TRUE(out[1].is_error());
    EXPECT_EQ(out[1].str(), "ERR wrong");
    EXPECT_EQ(out[2].integer(), -7);
    EXPECT_EQ(out[3].kind(), reply::type::string);
    EXPECT_EQ(out[3].str(), "abc");
    EXPECT_TRUE(out[4].is_nil());
    EXPECT_TRUE(out[5].is_string());
    EXPECT_EQ(out[5].str(), "");
}

// An XREADGROUP-shaped reply: arrays three deep, a nil array, an empty array, an error inside an
// array (as EXEC returns), and a bulk string holding CRLF and NUL.
const std::string tricky =
    "*3\r\n"s +
    "*2\r\n$16\r\nwharf:{q}:stream\r\n*2\r\n*2\r\n$3\r\n1-1\r\n*2\r\n$3\r\njob\r\n$5\r\na\r\n\0b\r\n"s +
    "*2\r\n$3\r\n1-2\r\n*-1\r\n"
    "*0\r\n"
    "*3\r\n-WRONGTYPE bad\r\n:1\r\n$-1\r\n"
    "+PONG\r\n";

void check_tricky(const std::vector<reply>& out) {
    ASSERT_EQ(out.size(), 2u);
    const reply& top = out[0];
    ASSERT_TRUE(top.is_array());
    ASSERT_EQ(top.size(), 3u);
    EXPECT_EQ(top[0][0].str(), "wharf:{q}:stream");
    const reply& entries = top[0][1];
    ASSERT_EQ(entries.size(), 2u);
    EXPECT_EQ(entries[0][0].str(), "1-1");
    EXPECT_EQ(entries[0][1][0].str(), "job");
    EXPECT_EQ(entries[0][1][1].str(), std::string("a\r\n\0b", 5));
    EXPECT_EQ(entries[1][0].str(), "1-2");
    EXPECT_TRUE(entries[1][1].is_nil());  // a deleted entry: *-1
    EXPECT_TRUE(top[1].is_array());
    EXPECT_EQ(top[1].size(), 0u);
    EXPECT_TRUE(top[2][0].is_error());
    EXPECT_EQ(top[2][0].str(), "WRONGTYPE bad");
    EXPECT_EQ(top[2][1].integer(), 1);
    EXPECT_TRUE(top[2][2].is_nil());
    EXPECT_EQ(out[1].str(), "PONG");
}

TEST(resp_reader, nested_arrays_nil_and_errors_in_one_read) { check_tricky(parse_in_steps(tricky, tricky.size())); }

TEST(resp_reader, nested_arrays_split_at_every_byte) {
    for (std::size_t step = 1; step < 17; ++step) check_tricky(parse_in_steps(tricky, step));
}

TEST(resp_reader, big_bulk_string_split_across_reads) {
    std::string payload(5 * 1024 * 1024 + 3, '\0');
    for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i * 31 + 7);
    const std::string wire = "$" + std::to_string(payload.size()) + "\r\n" + payload + "\r\n:5\r\n";
    resp_reader r;
    std::size_t fed = 0;
    std::vector<reply> out;
    // 64 KiB reads, as the connection does, with the reply incomplete until the last one.
    while (fed < wire.size()) {
        const auto n = std::min<std::size_t>(65536, wire.size() - fed);
        r.feed(wire.data() + fed, n);
        fed += n;
        for (auto& x : parse_all(r)) out.push_back(std::move(x));
        if (fed < payload.size()) {
            EXPECT_TRUE(out.empty());
        }
    }
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].str(), payload);
    EXPECT_EQ(out[1].integer(), 5);
}

TEST(resp_reader, many_replies_in_one_read) {
    std::string wire;
    for (int i = 0; i < 10000; ++i) wire += ":" + std::to_string(i) + "\r\n";
    resp_reader r;
    r.feed(wire.data(), wire.size());
    auto out = parse_all(r);
    ASSERT_EQ(out.size(), 10000u);
    for (int i = 0; i < 10000; ++i) ASSERT_EQ(out[static_cast<std::size_t>(i)].integer(), i);
}

TEST(resp_reader, malformed_input_is_a_protocol_error) {
    resp_reader r;
    const std::string wire = "?what\r\n";
    r.feed(wire.data(), wire.size());
    try {
        (void)r.next();
        FAIL() << "no throw";
    } catch (const redis::error& e) {
        EXPECT_EQ(e.which(), redis::error::kind::protocol);
    }
    // The reader stays in error: the connection must be dropped.
    EXPECT_THROW((void)r.next(), redis::error);
}

TEST(resp_reader, malformed_inside_a_nested_array_frees_the_partial_tree) {
    // ASan would report a leak of the partial reply tree here.
    resp_reader r;
    const std::string wire = "*2\r\n*2\r\n$1\r\na\r\n:x1\r\n";
    r.feed(wire.data(), wire.size());
    EXPECT_THROW((void)r.next(), redis::error);
}

TEST(resp_reader, incomplete_tree_is_freed_with_the_reader) {
    resp_reader r;
    const std::string wire = "*3\r\n*2\r\n$1\r\na\r\n";
    r.feed(wire.data(), wire.size());
    EXPECT_FALSE(r.next().has_value());
}

TEST(resp_reader, size_limit) {
    resp_reader r(1024);
    const std::string head = "$100000\r\n";
    r.feed(head.data(), head.size());
    EXPECT_FALSE(r.next().has_value());
    const std::string chunk(2000, 'x');
    EXPECT_THROW(r.feed(chunk.data(), chunk.size()), redis::error);
}

// Found by tests/fuzz/resp_fuzz: the element vector was sized from the header, so 14 bytes
// ("*2147483647\r\n") asked for 150 GB and the std::bad_alloc crossed hiredis's C frames.
TEST(resp_reader, a_huge_array_header_allocates_nothing_until_its_elements_arrive) {
    resp_reader r;
    const std::string head = "*2147483647\r\n";
    r.feed(head.data(), head.size());
    EXPECT_FALSE(r.next().has_value());
    const std::string some = ":1\r\n$1\r\na\r\n";
    r.feed(some.data(), some.size());
    EXPECT_FALSE(r.next().has_value());
}

// The fuzzer's input, nested: arrays of huge declared length inside a finished reply.
TEST(resp_reader, huge_nested_array_headers_inside_a_reply_are_refused_or_wait_without_allocating) {
    resp_reader r;
    const std::string wire = "*3\r\n*9\r\n*0\r\n$-1\r\n*3\r\n*2147483647\r\n+QUEUED\r\n";
    r.feed(wire.data(), wire.size());
    EXPECT_FALSE(r.next().has_value());
}

// Elements are appended as they arrive: siblings after a nested array, and arrays nested in
// arrays past the reserved size, keep their values.
TEST(resp_reader, arrays_grow_past_the_reservation_with_nested_siblings_intact) {
    std::string wire = "*2000\r\n";
    for (int i = 0; i < 2000; ++i) wire += i % 2 ? ":" + std::to_string(i) + "\r\n" : "*2\r\n$1\r\nk\r\n*1\r\n:" + std::to_string(i) + "\r\n";
    for (const std::size_t step : {std::size_t{1}, std::size_t{7}, wire.size()}) {
        const auto replies = parse_in_steps(wire, step);
        ASSERT_EQ(replies.size(), 1u);
        const auto& top = replies[0];
        ASSERT_EQ(top.size(), 2000u);
        for (std::size_t i = 0; i < 2000; ++i) {
            if (i % 2) {
                EXPECT_EQ(top[i].integer(), static_cast<std::int64_t>(i));
            } else {
                ASSERT_EQ(top[i].size(), 2u);
                EXPECT_EQ(top[i][0].str(), "k");
                EXPECT_EQ(top[i][1][0].integer(), static_cast<std::int64_t>(i));
            }
        }
    }
}

}  // namespace

namespace {

TEST(redis_cmd, builds_commands_from_strings_views_and_integers) {
    const std::string key = "wharf:{q}:stream";
    const auto c = wharf::redis::cmd("XADD", key, std::string_view("*"), 42, std::int64_t{-7}, std::size_t{3});
    EXPECT_EQ(c, (wharf::redis::command{"XADD", "wharf:{q}:stream", "*", "42", "-7", "3"}));
    EXPECT_TRUE(wharf::redis::args().empty());
    EXPECT_EQ(wharf::redis::args(key, 1), (std::vector<std::string>{key, "1"}));
}

}  // namespace

// Connection strings, error classification, text sanitising and array literals.
#include "wharf/pg/detail/text.hpp"

#include <gtest/gtest.h>

using namespace wharf::pg::detail;
using namespace std::chrono_literals;

TEST(connect_defaults, url_gets_a_connect_timeout_and_application_name) {
    EXPECT_EQ(with_connect_defaults("postgresql://u@h:5432/db", 5s),
              "postgresql://u@h:5432/db?connect_timeout=5&application_name=wharf");
    EXPECT_EQ(with_connect_defaults("postgres://h/db?sslmode=require", 3s, "x"),
              "postgres://h/db?sslmode=require&connect_timeout=3&application_name=x");
}

TEST(connect_defaults, key_value_form_is_extended_with_pairs) {
    EXPECT_EQ(with_connect_defaults("host=h dbname=db", 5s), "host=h dbname=db connect_timeout=5 application_name=wharf");
    EXPECT_EQ(with_connect_defaults("", 5s), "connect_timeout=5 application_name=wharf");
}

TEST(connect_defaults, settings_already_given_are_kept) {
    EXPECT_EQ(with_connect_defaults("postgresql://h/db?connect_timeout=10&application_name=me", 5s),
              "postgresql://h/db?connect_timeout=10&application_name=me");
    EXPECT_EQ(with_connect_defaults("host=h connect_timeout = 9 application_name=me", 5s),
              "host=h connect_timeout = 9 application_name=me");
    // A key that merely ends like one is not it.
    EXPECT_EQ(with_connect_defaults("host=h my_connect_timeout=1", 5s, ""), "host=h my_connect_timeout=1 connect_timeout=5");
}

TEST(one_line, folds_libpq_messages_and_redacts) {
    EXPECT_EQ(one_line("connection to server at \"127.0.0.1\", port 1 failed: Connection refused\n\tIs the server "
                       "running on that host?\n"),
              "connection to server at \"127.0.0.1\", port 1 failed: Connection refused Is the server running on "
              "that host?");
    EXPECT_EQ(one_line("bad url postgresql://u:secret@h/db"), "bad url postgresql://u:***@h/db");
}

TEST(connect_errors, permanent_ones_are_told_from_outages) {
    EXPECT_TRUE(is_permanent_connect_error(
        "connection to server at \"127.0.0.1\", port 5432 failed: FATAL: password authentication failed for user \"x\""));
    EXPECT_TRUE(is_permanent_connect_error("FATAL: database \"nope\" does not exist"));
    EXPECT_TRUE(is_permanent_connect_error("FATAL: role \"nope\" does not exist"));
    EXPECT_TRUE(is_permanent_connect_error("FATAL: no pg_hba.conf entry for host \"1.2.3.4\""));
    EXPECT_TRUE(is_permanent_connect_error("invalid connection option \"foo\""));
    EXPECT_FALSE(is_permanent_connect_error("connection to server at \"127.0.0.1\", port 1 failed: Connection refused"));
    EXPECT_FALSE(is_permanent_connect_error("FATAL: the database system is starting up"));
    EXPECT_FALSE(is_permanent_connect_error("FATAL: sorry, too many clients already"));
    EXPECT_FALSE(is_permanent_connect_error("timeout expired"));
}

TEST(sqlstates, connection_loss_and_retryable_conflicts) {
    EXPECT_TRUE(is_connection_sqlstate("08006"));
    EXPECT_TRUE(is_connection_sqlstate("57P01"));
    EXPECT_TRUE(is_connection_sqlstate("57P03"));
    EXPECT_FALSE(is_connection_sqlstate("57014"));  // statement timeout: the session lives on
    EXPECT_FALSE(is_connection_sqlstate("23505"));
    EXPECT_TRUE(is_retryable_sqlstate("40001"));
    EXPECT_TRUE(is_retryable_sqlstate("40P01"));
    EXPECT_FALSE(is_retryable_sqlstate("23505"));
}

TEST(sanitize_text, keeps_valid_utf8_and_repairs_the_rest) {
    EXPECT_EQ(sanitize_text("plain ascii"), "plain ascii");
    EXPECT_EQ(sanitize_text("h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x8E\xAC"), "h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x8E\xAC");
    EXPECT_EQ(sanitize_text(std::string_view("a\0b", 3)), "ab");
    EXPECT_EQ(sanitize_text("bad \xFF byte"), "bad \xEF\xBF\xBD byte");
    EXPECT_EQ(sanitize_text("cut \xE2\x82"), "cut \xEF\xBF\xBD\xEF\xBF\xBD");
    EXPECT_EQ(sanitize_text("overlong \xC0\xAF"), "overlong \xEF\xBF\xBD\xEF\xBF\xBD");
    EXPECT_EQ(sanitize_text("surrogate \xED\xA0\x80"), "surrogate \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(storable_json, rejects_invalid_json_and_nul_escapes) {
    EXPECT_TRUE(is_storable_json("{}"));
    EXPECT_TRUE(is_storable_json(R"({"a":[1,2,{"b":null}]})"));
    EXPECT_FALSE(is_storable_json("{"));
    EXPECT_FALSE(is_storable_json(""));
    EXPECT_FALSE(is_storable_json(R"({"a":"\u0000"})"));
}

TEST(array_literal, quotes_and_escapes_every_element) {
    array_literal a;
    a.push(std::string_view{"plain"});
    a.push(std::string_view{"with \"quotes\" and \\ backslash"});
    a.push(std::string_view{"NULL"});  // the string, not a null
    a.push_null();
    a.push(std::string_view{""});
    a.push(std::string_view{"{braces},commas"});
    EXPECT_EQ(a.size(), 6u);
    EXPECT_EQ(std::move(a).finish(),
              R"({"plain","with \"quotes\" and \\ backslash","NULL",NULL,"","{braces},commas"})");
}

TEST(array_literal, integers_and_empty) {
    array_literal a;
    a.push(std::int64_t{-9223372036854775807LL - 1});
    a.push(std::int64_t{42});
    a.push_optional(std::nullopt);
    EXPECT_EQ(std::move(a).finish(), "{-9223372036854775808,42,NULL}");
    EXPECT_EQ(array_literal{}.finish(), "{}");
}

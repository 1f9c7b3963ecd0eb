#include "wharf/backup/conninfo.hpp"

#include <gtest/gtest.h>

using namespace wharf::backup;

TEST(conninfo, the_password_leaves_the_url_for_the_environment) {
    const auto c = split_conninfo("postgresql://wharf:s3cr%27et@db.example:5433/jobs?sslmode=require");
    EXPECT_EQ(c.password, "s3cr'et");
    EXPECT_EQ(c.conninfo.find("s3cr"), std::string::npos) << c.conninfo;
    EXPECT_NE(c.conninfo.find("host='db.example'"), std::string::npos) << c.conninfo;
    EXPECT_NE(c.conninfo.find("port='5433'"), std::string::npos) << c.conninfo;
    EXPECT_NE(c.conninfo.find("sslmode='require'"), std::string::npos) << c.conninfo;
    EXPECT_NE(c.conninfo.find("dbname='jobs'"), std::string::npos) << c.conninfo;
    EXPECT_EQ(c.env(), std::vector<std::string>{"PGPASSWORD=s3cr'et"});
}

TEST(conninfo, key_value_strings_and_a_replaced_database) {
    const auto c = split_conninfo("host=/tmp port=5432 user=a password='p w\\\\x' dbname=wharf", "wharf_drill_1");
    EXPECT_EQ(c.password, "p w\\x");
    EXPECT_EQ(c.dbname, "wharf_drill_1");
    EXPECT_NE(c.conninfo.find("dbname='wharf_drill_1'"), std::string::npos) << c.conninfo;
    EXPECT_EQ(c.conninfo.find("dbname='wharf'"), std::string::npos) << c.conninfo;
    EXPECT_NE(c.conninfo.find("user='a'"), std::string::npos);
    const auto none = split_conninfo("postgresql://wharf@127.0.0.1/wharf");
    EXPECT_FALSE(none.password);
    EXPECT_TRUE(none.env().empty());
}

TEST(conninfo, values_with_quotes_are_escaped) {
    const auto c = split_conninfo("host=h user='o\\'brien' dbname=x");
    EXPECT_NE(c.conninfo.find("user='o\\'brien'"), std::string::npos) << c.conninfo;
}

TEST(conninfo, a_malformed_url_is_refused_without_repeating_it) {
    try {
        split_conninfo("postgresql://u:topsecret@[::1/db");
        FAIL();
    } catch (const std::invalid_argument& e) {
        EXPECT_EQ(std::string(e.what()).find("topsecret"), std::string::npos) << e.what();
    }
    EXPECT_THROW(split_conninfo("host=a bogus"), std::invalid_argument);
    try {
        split_conninfo("postgresql://u:topsecret@host/db?bogus=1");
        FAIL();
    } catch (const std::invalid_argument& e) {
        EXPECT_EQ(std::string(e.what()).find("topsecret"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("bogus"), std::string::npos) << e.what();
    }
}

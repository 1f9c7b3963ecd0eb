// The migration runner against a real PostgreSQL: once, in order, concurrently, checksummed.
#include "wharf/test/pg_env.hpp"

#include "wharf/core/config.hpp"
#include "wharf/pg/migrate.hpp"
#include "wharf/pg/pool.hpp"

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include <barrier>
#include <fstream>
#include <map>
#include <thread>

namespace pg = wharf::pg;
namespace fs = std::filesystem;
using wharf::test::fresh_database;

namespace {

std::vector<std::string> file_names(const fs::path& dir) {
    std::vector<std::string> names;
    for (const auto& f : pg::read_migrations(dir)) names.push_back(f.name);
    return names;
}

// A copy of the repository's migrations that a test may change.
fs::path copy_migrations(const wharf::test::temp_dir& tmp) {
    const fs::path dir = tmp.path() / "migrations";
    fs::create_directories(dir);
    for (const auto& f : pg::read_migrations(pg::default_migrations_dir())) fs::copy_file(f.path, dir / f.name);
    return dir;
}

std::int64_t count(const std::string& url, const std::string& sql) {
    pqxx::connection c(url);
    pqxx::read_transaction tx(c);
    return tx.exec1(sql)[0].as<std::int64_t>();
}

}  // namespace

TEST(migrate, the_repository_migrations_are_numbered_from_0001_jobs) {
    const auto names = file_names(pg::default_migrations_dir());
    ASSERT_FALSE(names.empty());
    EXPECT_EQ(names.front(), "0001_jobs.sql");
}

TEST(migrate, applies_every_file_once_in_order) {
    const auto url = fresh_database();
    const auto names = file_names(pg::default_migrations_dir());
    const auto first = pg::migrate(url, pg::default_migrations_dir());
    EXPECT_EQ(first.applied, names);
    EXPECT_TRUE(first.already_applied.empty());
    const auto second = pg::migrate(url, pg::default_migrations_dir());
    EXPECT_TRUE(second.applied.empty());
    EXPECT_EQ(second.already_applied, names);
    EXPECT_EQ(count(url, "SELECT count(*) FROM schema_migrations"), static_cast<std::int64_t>(names.size()));
    EXPECT_EQ(count(url, "SELECT min(version) FROM schema_migrations"), 1);
}

TEST(migrate, every_jobs_column_is_documented_for_operators) {
    const auto url = fresh_database();
    pg::migrate(url, pg::default_migrations_dir());
    EXPECT_EQ(count(url, "SELECT count(*) FROM information_schema.columns WHERE table_name = 'jobs'"), 21);
    EXPECT_EQ(count(url, R"(SELECT count(*) FROM information_schema.columns c
                            WHERE c.table_name = 'jobs' AND col_description('jobs'::regclass, c.ordinal_position) IS NULL)"),
              0);
    EXPECT_EQ(count(url, "SELECT count(*) FROM pg_indexes WHERE tablename = 'jobs'"), 6);  // pkey + 4 + by tenant (api)
}

TEST(migrate, the_status_check_refuses_unknown_statuses) {
    const auto url = fresh_database();
    pg::migrate(url, pg::default_migrations_dir());
    pqxx::connection c(url);
    pqxx::work tx(c);
    EXPECT_THROW(tx.exec0("INSERT INTO jobs (id, queue, status) VALUES ('x', 'q', 'done')"),
                 pqxx::check_violation);
}

TEST(migrate, eight_concurrent_migrators_apply_each_file_exactly_once) {
    const auto url = fresh_database();
    const auto names = file_names(pg::default_migrations_dir());
    constexpr int migrators = 8;
    std::barrier start_together(migrators);
    std::vector<pg::migrate_report> reports(migrators);
    std::vector<std::string> errors(migrators);
    std::vector<std::thread> threads;
    for (int i = 0; i < migrators; ++i)
        threads.emplace_back([&, i] {
            start_together.arrive_and_wait();
            try {
                reports[static_cast<std::size_t>(i)] = pg::migrate(url, pg::default_migrations_dir());
            } catch (const std::exception& e) {
                errors[static_cast<std::size_t>(i)] = e.what();
            }
        });
    for (auto& t : threads) t.join();
    std::map<std::string, int> applied;
    for (int i = 0; i < migrators; ++i) {
        EXPECT_EQ(errors[static_cast<std::size_t>(i)], "") << "migrator " << i;
        for (const auto& n : reports[static_cast<std::size_t>(i)].applied) ++applied[n];
    }
    ASSERT_EQ(applied.size(), names.size());
    for (const auto& n : names) EXPECT_EQ(applied[n], 1) << n;
    EXPECT_EQ(count(url, "SELECT count(*) FROM schema_migrations"), static_cast<std::int64_t>(names.size()));
}

TEST(migrate, a_changed_applied_migration_is_refused) {
    wharf::test::temp_dir tmp;
    const auto dir = copy_migrations(tmp);
    const auto url = fresh_database();
    pg::migrate(url, dir);
    std::ofstream(dir / "0001_jobs.sql", std::ios::app) << "\n-- edited after the fact\n";
    std::ofstream(dir / "0099_later.sql") << "CREATE TABLE later (x int);\n";
    try {
        pg::migrate(url, dir);
        FAIL() << "a changed migration was accepted";
    } catch (const pg::migration_error& e) {
        EXPECT_NE(std::string(e.what()).find("0001_jobs.sql changed after it was applied"), std::string::npos)
            << e.what();
    }
    // Nothing after the refusal ran.
    EXPECT_EQ(count(url, "SELECT count(*) FROM schema_migrations WHERE version = 99"), 0);
}

TEST(migrate, a_new_file_is_applied_and_a_failing_one_rolls_back_whole) {
    wharf::test::temp_dir tmp;
    const auto dir = copy_migrations(tmp);
    const auto url = fresh_database();
    pg::migrate(url, dir);
    std::ofstream(dir / "0098_good.sql") << "CREATE TABLE good (x int);\n";
    std::ofstream(dir / "0099_bad.sql") << "CREATE TABLE half (x int);\nSELECT no_such_function();\n";
    try {
        pg::migrate(url, dir);
        FAIL() << "a failing migration was reported applied";
    } catch (const pg::migration_error& e) {
        EXPECT_NE(std::string(e.what()).find("0099_bad.sql failed"), std::string::npos) << e.what();
    }
    EXPECT_EQ(count(url, "SELECT count(*) FROM schema_migrations WHERE version = 98"), 1);
    EXPECT_EQ(count(url, "SELECT count(*) FROM schema_migrations WHERE version = 99"), 0);
    EXPECT_EQ(count(url, "SELECT count(*) FROM pg_tables WHERE tablename = 'half'"), 0);
}

TEST(migrate, badly_named_or_duplicate_files_are_refused) {
    wharf::test::temp_dir tmp;
    std::ofstream(tmp.path() / "1_short.sql") << "SELECT 1;";
    EXPECT_THROW(pg::read_migrations(tmp.path()), pg::migration_error);
    fs::remove(tmp.path() / "1_short.sql");
    std::ofstream(tmp.path() / "0001_a.sql") << "SELECT 1;";
    std::ofstream(tmp.path() / "0001_b.sql") << "SELECT 2;";
    EXPECT_THROW(pg::read_migrations(tmp.path()), pg::migration_error);
    EXPECT_THROW(pg::read_migrations(tmp.path() / "missing"), pg::migration_error);
}

TEST(migrate, a_missing_database_is_reported_at_once_without_the_password) {
    const auto url = "postgresql://postgres:hunter2@127.0.0.1:" + std::to_string(wharf::test::shared_postgres().port()) +
                     "/no_such_db";
    const auto t0 = std::chrono::steady_clock::now();
    try {
        pg::migrate(url, pg::default_migrations_dir());
        FAIL() << "migrate succeeded against a missing database";
    } catch (const pg::unavailable& e) {
        const std::string what = e.what();
        EXPECT_EQ(what.find("hunter2"), std::string::npos) << what;
        EXPECT_NE(what.find("does not exist"), std::string::npos) << what;
        EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    }
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));  // not retried
}

TEST(migrate, the_folder_comes_from_the_setting_or_the_source_tree) {
    const std::array<wharf::option_spec, 1> specs{pg::migrations_dir_option};
    const std::vector<std::string> args{"--migrations-dir", "/srv/wharf/migrations"};
    EXPECT_EQ(pg::migrations_dir(wharf::config::load(args, {}, specs)), fs::path("/srv/wharf/migrations"));
    EXPECT_EQ(pg::migrations_dir(wharf::config::load(std::vector<std::string>{}, {}, specs)),
              pg::default_migrations_dir());
    EXPECT_TRUE(fs::exists(pg::default_migrations_dir() / "0001_jobs.sql"));
}

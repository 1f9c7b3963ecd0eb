// The migration runner: ordered, checksummed, one transaction per file, serialized across
// processes by an advisory lock.
#include "wharf/pg/migrate.hpp"

#include "wharf/core/backoff.hpp"
#include "wharf/core/log.hpp"
#include "wharf/core/redact.hpp"
#include "wharf/pg/detail/text.hpp"
#include "wharf/pg/pool.hpp"

#include <openssl/evp.h>
#include <pqxx/pqxx>

#include <algorithm>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <sstream>
#include <thread>

namespace wharf::pg {
namespace fs = std::filesystem;
namespace {

// The advisory lock every wharf migrator takes ("wharf" in ASCII), so concurrent runs queue up.
constexpr std::int64_t migration_lock_key = 0x7768617266;

std::string sha256_hex(std::string_view data) {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1 ||
        EVP_DigestUpdate(ctx.get(), data.data(), data.size()) != 1 ||
        EVP_DigestFinal_ex(ctx.get(), digest, &len) != 1)
        throw migration_error("SHA-256 failed (OpenSSL)");
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(len * 2);
    for (unsigned int i = 0; i < len; ++i) {
        out.push_back(hex[digest[i] >> 4]);
        out.push_back(hex[digest[i] & 0xF]);
    }
    return out;
}

// Connects, retrying while the server is down or starting (many processes may start together
// with PostgreSQL); refusals that retrying will not fix are reported at once.
std::unique_ptr<pqxx::connection> connect(const std::string& url, const migrate_options& options) {
    const std::string conninfo = detail::with_connect_defaults(url, options.connect_timeout, "wharf-migrate");
    const backoff_policy policy{std::chrono::milliseconds{100}, std::chrono::milliseconds{3'000},
                                options.connect_attempts == 0 ? 1 : options.connect_attempts};
    for (std::uint32_t attempt = 1;; ++attempt) {
        std::string message;
        try {
            return std::make_unique<pqxx::connection>(conninfo);
        } catch (const pqxx::broken_connection& e) {
            message = detail::one_line(e.what());
        }
        if (detail::is_permanent_connect_error(message))
            throw unavailable("PostgreSQL at " + redact(url) + " refused the connection: " + message);
        if (!policy.may_retry(attempt))
            throw unavailable("PostgreSQL at " + redact(url) + " unreachable after " + std::to_string(attempt) +
                              " attempts: " + message);
        // A blocking sleep is right here: migrate() is documented as blocking, off the I/O threads.
        std::this_thread::sleep_for(policy.delay(attempt, jitter_rng()));
    }
}

constexpr const char* bootstrap_sql = R"sql(
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer     PRIMARY KEY,
    name       text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    checksum   text        NOT NULL
);
COMMENT ON TABLE schema_migrations IS
  'Migrations applied by wharfctl migrate: one row per migrations/NNNN_name.sql file, written in the same transaction as the file itself.';
COMMENT ON COLUMN schema_migrations.version IS 'NNNN, the number the file name starts with; files apply in this order.';
COMMENT ON COLUMN schema_migrations.name IS 'The file name, e.g. 0001_jobs.sql.';
COMMENT ON COLUMN schema_migrations.applied_at IS 'When the migration was committed.';
COMMENT ON COLUMN schema_migrations.checksum IS 'Hex SHA-256 of the file as applied; a file changed afterwards is refused.';
)sql";

}  // namespace

std::vector<migration_file> read_migrations(const fs::path& dir) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) throw migration_error("migrations folder " + dir.string() + " does not exist");
    static const std::regex pattern(R"(^([0-9]{4})_[A-Za-z0-9_.-]+\.sql$)");
    std::map<std::int32_t, migration_file> by_version;
    for (const auto& entry : fs::directory_iterator(dir)) {
        if (!entry.is_regular_file() || entry.path().extension() != ".sql") continue;
        const std::string name = entry.path().filename().string();
        std::smatch m;
        if (!std::regex_match(name, m, pattern))
            throw migration_error("migration file " + name + " is not named NNNN_name.sql");
        migration_file f;
        f.version = std::stoi(m[1].str());
        f.name = name;
        f.path = entry.path();
        std::ifstream in(entry.path(), std::ios::binary);
        std::ostringstream content;
        content << in.rdbuf();
        if (!in) throw migration_error("cannot read migration " + entry.path().string());
        f.sql = content.str();
        f.checksum = sha256_hex(f.sql);
        if (auto it = by_version.find(f.version); it != by_version.end())
            throw migration_error("migrations " + it->second.name + " and " + name + " share version " + m[1].str());
        by_version.emplace(f.version, std::move(f));
    }
    std::vector<migration_file> out;
    out.reserve(by_version.size());
    for (auto& [version, f] : by_version) out.push_back(std::move(f));
    return out;
}

migrate_report migrate(const std::string& url, const fs::path& dir, migrate_options options) {
    const auto files = read_migrations(dir);
    auto conn = connect(url, options);
    migrate_report report;
    try {
        {
            pqxx::nontransaction tx(*conn);
            // Bounds both the wait for another migrator and any lock a migration waits for.
            tx.exec0("SET lock_timeout = " + std::to_string(options.lock_timeout.count()));
            tx.exec("SELECT pg_advisory_lock(" + std::to_string(migration_lock_key) + ")");
        }
        {
            pqxx::work tx(*conn);
            if (tx.exec1("SELECT to_regclass('schema_migrations') IS NULL")[0].as<bool>()) tx.exec0(bootstrap_sql);
            tx.commit();
        }
        std::map<std::int32_t, std::pair<std::string, std::string>> applied;  // version -> name, checksum
        {
            pqxx::read_transaction tx(*conn);
            for (const auto& row : tx.exec("SELECT version, name, checksum FROM schema_migrations"))
                applied.emplace(row[0].as<std::int32_t>(), std::pair{row[1].as<std::string>(), row[2].as<std::string>()});
        }
        // Check every applied file before applying anything, so a changed history stops the run
        // before it adds to it.
        for (const auto& f : files) {
            auto it = applied.find(f.version);
            if (it == applied.end()) continue;
            if (it->second.second != f.checksum)
                throw migration_error("migration " + f.name + " changed after it was applied (applied checksum " +
                                      it->second.second.substr(0, 12) + ", file now " + f.checksum.substr(0, 12) +
                                      "): restore it and add a new migration instead");
            report.already_applied.push_back(f.name);
        }
        for (const auto& f : files) {
            if (applied.count(f.version)) continue;
            try {
                pqxx::work tx(*conn);
                tx.exec(f.sql);
                tx.exec_params0("INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                                f.version, f.name, f.checksum);
                tx.commit();
            } catch (const pqxx::sql_error& e) {
                throw migration_error("migration " + f.name + " failed: " + detail::one_line(e.what()));
            }
            spdlog::info("migrate: applied {}", f.name);
            report.applied.push_back(f.name);
        }
        pqxx::nontransaction tx(*conn);
        tx.exec("SELECT pg_advisory_unlock(" + std::to_string(migration_lock_key) + ")");
    } catch (const pqxx::broken_connection& e) {
        throw unavailable("PostgreSQL at " + redact(url) + " went away during migration: " + detail::one_line(e.what()));
    } catch (const pqxx::sql_error& e) {
        // lock_timeout while waiting for another migrator, or the bookkeeping queries.
        throw migration_error("migration run failed: " + detail::one_line(e.what()));
    }
    // Closing the session would also release the lock; unlocking first is just tidier.
    return report;
}

fs::path default_migrations_dir() { return WHARF_MIGRATIONS_DIR; }

fs::path migrations_dir(const config& cfg) {
    if (auto dir = cfg.get(migrations_dir_option.key); dir && !dir->empty()) return *dir;
    return default_migrations_dir();
}

}  // namespace wharf::pg

// One PostgreSQL per test binary (started on first use), a fresh database per test, and a helper
// that runs a coroutine to completion.
#include "wharf/test/pg_env.hpp"

#include "wharf/pg/migrate.hpp"

#include <pqxx/pqxx>

#include <atomic>
#include <memory>
#include <mutex>

namespace wharf::test {

postgres_server& shared_postgres() {
    static std::once_flag once;
    static std::unique_ptr<postgres_server> server;
    std::call_once(once, [] { server = std::make_unique<postgres_server>(); });
    return *server;
}

std::string fresh_database(const std::string& prefix) {
    static std::atomic<int> n{0};
    const std::string name = prefix + "_" + std::to_string(++n);
    auto& server = shared_postgres();
    pqxx::connection c(server.url("postgres"));
    pqxx::nontransaction tx(c);
    tx.exec0("CREATE DATABASE " + tx.quote_name(name));
    return server.url(name);
}

std::string migrated_database() {
    auto url = fresh_database("m");
    wharf::pg::migrate(url, wharf::pg::default_migrations_dir());
    return url;
}

}  // namespace wharf::test

// One PostgreSQL for the binary, a fresh migrated database per test.
#include "accounting_env.hpp"

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

std::string migrated_database() {
    static std::atomic<int> n{0};
    const std::string name = "acct_" + std::to_string(++n);
    auto& server = shared_postgres();
    {
        pqxx::connection c(server.url("postgres"));
        pqxx::nontransaction tx(c);
        tx.exec0("CREATE DATABASE " + tx.quote_name(name));
    }
    const auto url = server.url(name);
    wharf::pg::migrate(url, wharf::pg::default_migrations_dir());
    return url;
}

}  // namespace wharf::test

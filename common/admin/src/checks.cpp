#include "wharf/admin/checks.hpp"

#include "wharf/pg/pool.hpp"
#include "wharf/redis/connection.hpp"

#include <pqxx/pqxx>

#include <stdexcept>

namespace wharf::admin {

check redis_check(redis::connection& redis) {
    return {"redis", [&redis]() -> boost::asio::awaitable<void> {
                redis::command ping{"PING"};
                const auto r = co_await redis.exec(std::move(ping));
                if (r.is_error()) throw std::runtime_error("PING: " + r.str());
            }};
}

check postgres_check(pg::pool& db) {
    return {"postgresql", [&db]() -> boost::asio::awaitable<void> {
                auto select_one = [](pqxx::connection& c) {
                    pqxx::nontransaction tx{c};
                    tx.exec("SELECT 1");
                };
                co_await db.run(std::move(select_one));
            }};
}

}  // namespace wharf::admin

#include "wharf/pg/redis_incarnations.hpp"

#include <pqxx/pqxx>

namespace wharf::pg {

boost::asio::awaitable<std::int64_t> redis_data_since(pool& db, std::string run_id, std::int64_t redis_now_ms) {
    auto record = [run_id = std::move(run_id), redis_now_ms](pqxx::connection& c) {
        pqxx::work tx(c, "redis_incarnation");
        tx.exec_params("INSERT INTO redis_incarnations (run_id, first_seen_ms) VALUES ($1, $2) "
                       "ON CONFLICT (run_id) DO NOTHING",
                       run_id, redis_now_ms);
        const auto r = tx.exec_params1(
            "SELECT first_seen_ms, (SELECT count(*) FROM redis_incarnations) FROM redis_incarnations WHERE run_id = $1",
            run_id);
        tx.commit();
        return r[1].as<std::int64_t>() == 1 ? std::int64_t{0} : r[0].as<std::int64_t>();
    };
    co_return co_await db.run(std::move(record));  // named: see pool::run; idempotent
}

}  // namespace wharf::pg

#include "rate_limit.hpp"

#include "wharf/core/redact.hpp"
#include "wharf/redis/connection.hpp"

#include <spdlog/spdlog.h>

#include <chrono>

namespace wharf::api {

namespace {
// KEYS: the window's counter   ARGV: limit   Returns the count after this request (0 = refused,
// the counter is not raised past the limit).
const redis::script& window_script() {
    static const redis::script s{R"lua(
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], 2) end
if n > tonumber(ARGV[1]) then return 0 end
return n
)lua"};
    return s;
}
}  // namespace

boost::asio::awaitable<rate_decision> take(redis::connection& redis, const std::string& prefix,
                                           std::int32_t per_second) {
    const auto second =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    std::vector<std::string> keys{"wharf:api:rate:{" + prefix + "}:" + std::to_string(second)};
    std::vector<std::string> args{std::to_string(per_second)};
    try {
        auto asking = redis.eval(window_script(), std::move(keys), std::move(args));
        const auto r = co_await std::move(asking);
        if (r.is_integer() && r.integer() == 0) co_return rate_decision{false, 1};
    } catch (const std::exception& e) {
        spdlog::warn("rate limit not checked (Redis): {}", redact(e.what()));
    }
    co_return rate_decision{};
}

}  // namespace wharf::api

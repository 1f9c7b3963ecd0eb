#include "wharf/admin/process_endpoints.hpp"

#include "wharf/admin/checks.hpp"
#include "wharf/pg/pool.hpp"
#include "wharf/redis/connection.hpp"

#include <boost/asio/strand.hpp>

namespace wharf::admin {

namespace asio = boost::asio;

struct process_endpoints::impl {
    asio::strand<asio::any_io_executor> strand;
    redis::connection redis;
    pg::pool db;
    std::unique_ptr<endpoints> served;

    impl(asio::any_io_executor ex, const process_endpoints_options& o)
        : strand(asio::make_strand(ex)),
          // Deadlines within a probe's: an unreachable server fails the check, not the probe.
          redis(strand, o.redis,
                redis::connection_options{.command_timeout = std::chrono::seconds(2),
                                          .connect_timeout = std::chrono::seconds(2),
                                          .client_name = o.process_name + "-admin"}),
          db(ex, o.database_url,
             pg::pool_options{.threads = 1,
                              .reconnect_attempts = 1,
                              .connect_timeout = std::chrono::seconds(2),
                              .statement_timeout = std::chrono::seconds(2)}) {}
};

process_endpoints::process_endpoints(asio::any_io_executor executor, process_endpoints_options options,
                                     std::function<void()> drain, refresh_fn refresh)
    : impl_(std::make_unique<impl>(executor, options)) {
    auto* self = impl_.get();
    std::function<asio::awaitable<void>()> refresh_here;
    if (refresh)
        refresh_here = [self, refresh = std::move(refresh)]() { return refresh(self->redis, self->db); };
    // The endpoints run on the clients' strand (theirs is nested in it), where the clients may be used.
    impl_->served = std::make_unique<endpoints>(
        impl_->strand, endpoints_options{.listen = options.listen, .process_name = options.process_name},
        std::vector<check>{redis_check(impl_->redis), postgres_check(impl_->db)}, std::move(drain),
        std::move(refresh_here));
}

process_endpoints::~process_endpoints() { stop(); }

std::uint16_t process_endpoints::port() const noexcept { return impl_->served->port(); }

void process_endpoints::set_draining() { impl_->served->set_draining(); }

void process_endpoints::stop() {
    impl_->served->stop();
    impl_->db.shutdown();
}

}  // namespace wharf::admin

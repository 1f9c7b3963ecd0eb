#include "wharf/admin/systemd.hpp"

#include <boost/asio/steady_timer.hpp>
#include <systemd/sd-daemon.h>

#include <string>

namespace wharf::admin {

void notify_ready(std::string_view status) {
    std::string message = "READY=1";
    if (!status.empty()) message += "\nSTATUS=" + std::string(status);
    ::sd_notify(0, message.c_str());
}

void notify_stopping() { ::sd_notify(0, "STOPPING=1"); }

struct watchdog::impl : std::enable_shared_from_this<impl> {
    boost::asio::steady_timer timer;
    std::chrono::microseconds every{0};
    explicit impl(boost::asio::any_io_executor ex) : timer(std::move(ex)) {}
    void arm() {
        timer.expires_after(every);
        timer.async_wait([w = weak_from_this()](boost::system::error_code ec) {
            if (ec) return;
            if (auto self = w.lock()) {
                ::sd_notify(0, "WATCHDOG=1");
                self->arm();
            }
        });
    }
};

watchdog::watchdog(boost::asio::any_io_executor executor) : impl_(std::make_shared<impl>(std::move(executor))) {
    std::uint64_t usec = 0;
    if (::sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return;
    impl_->every = std::chrono::microseconds(usec / 2);
    impl_->arm();
}

watchdog::~watchdog() { impl_->timer.cancel(); }

}  // namespace wharf::admin

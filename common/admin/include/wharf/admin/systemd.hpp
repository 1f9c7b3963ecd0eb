// systemd's notify protocol (Type=notify units): READY once serving, STOPPING on a graceful stop,
// and WATCHDOG pings from the event loop itself while WatchdogSec= is set, so a wedged loop gets
// the process restarted. Without NOTIFY_SOCKET (not under systemd) every call does nothing.
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <memory>
#include <string_view>

namespace wharf::admin {

void notify_ready(std::string_view status = {});
void notify_stopping();

// Pings the watchdog at half its interval from a timer on `executor` until destroyed; nothing
// when the unit has no WatchdogSec=.
class watchdog {
public:
    explicit watchdog(boost::asio::any_io_executor executor);
    ~watchdog();
    watchdog(const watchdog&) = delete;
    watchdog& operator=(const watchdog&) = delete;

private:
    struct impl;
    std::shared_ptr<impl> impl_;
};

}  // namespace wharf::admin

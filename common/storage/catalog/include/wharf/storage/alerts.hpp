// "Provider full" email alerts: the message (pure), SMTP delivery through libcurl (blocking, so it
// runs on its own thread, never on an I/O thread), and the dispatcher that sends each crossing's
// alert once and retries a failed send with backoff.
//
// Exactly once per crossing: the transaction that makes a provider full claims the alert
// (catalog.hpp); the claimer sends after the commit and then marks it sent for that crossing's
// generation. A failed send releases the claim with a backoff delay and a later sweep (any
// worker) claims and retries it; a claim held by a worker that crashed expires after
// alert_claim_lease. The one window left is a crash between the SMTP server accepting the message
// and the mark: that alert goes out twice rather than never.
#pragma once

#include "wharf/core/backoff.hpp"
#include "wharf/storage/catalog.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace wharf {
class config;
struct option_spec;
}  // namespace wharf

namespace wharf::storage {

struct email {
    std::string subject;
    std::string text;  // text/plain part
    std::string html;  // text/html part
};

// The alert for a provider that reached its limit: provider, usage and limit in bytes and in
// human units, and when. Pure.
email format_full_alert(const full_crossing& crossing, std::chrono::system_clock::time_point at);

// An RFC 5322 message with a multipart/alternative body (plain text first, then HTML, as RFC 2046
// orders them: least to most preferred), CRLF line ends, UTF-8 quoted-printable parts. Pure.
std::string render_message(const email& e, std::string_view from, const std::vector<std::string>& to,
                           std::chrono::system_clock::time_point date, std::string_view boundary,
                           std::string_view message_id);

enum class smtp_tls {
    none,     // plain SMTP (a local relay)
    try_tls,  // STARTTLS when the server offers it (default)
    require,  // STARTTLS or fail; smtps:// URLs are TLS from the first byte either way
};

struct smtp_settings {
    std::string url;  // smtp://host:587 or smtps://host:465
    std::string from;
    std::vector<std::string> to;
    std::optional<std::string> username, password;
    smtp_tls tls = smtp_tls::try_tls;
    bool verify_peer = true;
    std::optional<std::string> ca_file;  // extra trust anchor (tests, private relays)
    std::chrono::seconds connect_timeout{10};
    std::chrono::seconds timeout{30};  // the whole conversation
    bool enabled() const noexcept { return !url.empty() && !to.empty(); }
};

// Settings from the one config loader: smtp_url, smtp_from, alert_to (comma-separated),
// smtp_username, smtp_password, smtp_tls (none|try|require), smtp_ca_file. Throws config_error.
smtp_settings smtp_settings_from(const wharf::config& cfg);
// The option specs of those settings (plus storage_providers, see registry.hpp), for programs'
// spec lists.
std::vector<wharf::option_spec> alert_option_specs();

class alert_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// One SMTP conversation per send. Blocking; throws alert_error with curl's reason (never the
// password).
class smtp_mailer {
public:
    explicit smtp_mailer(smtp_settings settings);
    void send(const email& e) const;
    const smtp_settings& settings() const noexcept { return settings_; }

private:
    smtp_settings settings_;
};

struct dispatcher_options {
    // Delay before re-trying a failed send: full jitter, uncapped attempts (an alert is retried
    // until it goes out or the provider drops below its limit).
    backoff_policy retry{std::chrono::seconds(30), std::chrono::hours(1), 0};
};

// Sends claimed alerts. Mail goes out on a dedicated thread; database work on the pg pool.
class alert_dispatcher {
public:
    alert_dispatcher(catalog db, smtp_settings settings, dispatcher_options options = {});
    ~alert_dispatcher();
    alert_dispatcher(const alert_dispatcher&) = delete;
    alert_dispatcher& operator=(const alert_dispatcher&) = delete;

    // Sends the alert of a crossing this process claimed (record_result::crossing) and marks it
    // sent; on failure releases it for a later retry. Returns whether it went out. Never throws
    // for a mail failure (logged); database errors propagate.
    boost::asio::awaitable<bool> dispatch(full_crossing crossing);
    // Claims the due alerts (failed earlier, or claimed by a worker that died) and dispatches
    // them. Returns how many went out.
    boost::asio::awaitable<std::size_t> sweep();
    // sweep() every `interval` until cancelled; errors are logged and the loop goes on.
    boost::asio::awaitable<void> run(std::chrono::milliseconds interval);

private:
    struct impl;
    std::shared_ptr<impl> impl_;
};

}  // namespace wharf::storage

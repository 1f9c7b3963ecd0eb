// "Provider full" alerts: message formatting, SMTP through libcurl, and the dispatcher.
#include "wharf/storage/alerts.hpp"

#include "wharf/metrics/registry.hpp"

#include "wharf/asio/offload.hpp"

#include "wharf/core/config.hpp"
#include "wharf/core/log.hpp"
#include "wharf/core/redact.hpp"
#include "wharf/pg/pool.hpp"
#include "wharf/storage/quota.hpp"

#include <boost/asio/async_result.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <curl/curl.h>
#include <fmt/chrono.h>
#include <fmt/format.h>
#include <pqxx/pqxx>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <mutex>
#include <random>

namespace asio = boost::asio;

namespace wharf::storage {
namespace {

std::string html_escape(std::string_view s) {
    std::string out;
    for (char c : s) {
        switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&#39;"; break;
        default: out += c;
        }
    }
    return out;
}

// Quoted-printable (RFC 2045 6.7) with CRLF line ends and soft breaks before 76 columns.
std::string quoted_printable(std::string_view text) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    std::size_t column = 0;
    auto emit = [&](std::string_view piece) {
        if (column + piece.size() > 75) {
            out += "=\r\n";
            column = 0;
        }
        out += piece;
        column += piece.size();
    };
    for (std::size_t i = 0; i < text.size(); ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c == '\n') {
            out += "\r\n";
            column = 0;
            continue;
        }
        if (c == '\r') continue;
        const bool line_end_follows = i + 1 == text.size() || text[i + 1] == '\n' || text[i + 1] == '\r';
        const bool literal = (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !line_end_follows);
        if (literal) {
            const char ch = static_cast<char>(c);
            emit(std::string_view(&ch, 1));
        } else {
            const char enc[3] = {'=', hex[c >> 4], hex[c & 15]};
            emit(std::string_view(enc, 3));
        }
    }
    return out;
}

std::string rfc5322_date(std::chrono::system_clock::time_point t) {
    const std::time_t tt = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    return buf;
}

std::string iso_utc(std::chrono::system_clock::time_point t) {
    const std::time_t tt = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

// Header values come from configuration and provider names: no line breaks may reach the wire.
std::string header_safe(std::string_view s) {
    std::string out(s);
    std::replace_if(out.begin(), out.end(), [](char c) { return c == '\r' || c == '\n'; }, ' ');
    return out;
}

std::string mailbox(std::string_view address) {
    return address.find('<') == std::string_view::npos ? "<" + header_safe(address) + ">" : header_safe(address);
}

void curl_global() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct upload_source {
    std::string_view data;
    std::size_t offset = 0;
};

std::size_t read_body(char* buffer, std::size_t size, std::size_t count, void* user) {
    auto* src = static_cast<upload_source*>(user);
    const std::size_t n = std::min(size * count, src->data.size() - src->offset);
    std::memcpy(buffer, src->data.data() + src->offset, n);
    src->offset += n;
    return n;
}

std::string random_token() {
    std::mt19937_64 rng{std::random_device{}()};
    return fmt::format("{:016x}{:016x}", rng(), rng());
}

}  // namespace

email format_full_alert(const full_crossing& c, std::chrono::system_clock::time_point at) {
    const double percent =
        c.limit_bytes == 0 ? 100.0 : 100.0 * static_cast<double>(c.used_bytes) / static_cast<double>(c.limit_bytes);
    email e;
    e.subject = header_safe(fmt::format("[wharf] storage provider \"{}\" is full ({:.1f}% of {})", c.provider,
                                        percent, human_bytes(c.limit_bytes)));
    e.text = fmt::format(
        "Storage provider \"{}\" has reached its capacity limit.\n"
        "\n"
        "Provider: {}\n"
        "Usage:    {} bytes ({})\n"
        "Limit:    {} bytes ({})\n"
        "Used:     {:.1f}%\n"
        "At:       {}\n"
        "\n"
        "New uploads are placed on the other providers; when none has room they fail with\n"
        "\"all storage providers are full\". Free space or raise the limit (storage_providers)\n"
        "to bring it back. This alert is sent once per crossing of the limit.\n",
        c.provider, c.provider, c.used_bytes, human_bytes(c.used_bytes), c.limit_bytes, human_bytes(c.limit_bytes),
        percent, iso_utc(at));
    const std::string p = html_escape(c.provider);
    e.html = fmt::format(
        "<!DOCTYPE html>\n<html><body>\n"
        "<p>Storage provider <strong>{}</strong> has reached its capacity limit.</p>\n"
        "<table>\n"
        "<tr><th align=\"left\">Provider</th><td>{}</td></tr>\n"
        "<tr><th align=\"left\">Usage</th><td>{} bytes ({})</td></tr>\n"
        "<tr><th align=\"left\">Limit</th><td>{} bytes ({})</td></tr>\n"
        "<tr><th align=\"left\">Used</th><td>{:.1f}%</td></tr>\n"
        "<tr><th align=\"left\">At</th><td>{}</td></tr>\n"
        "</table>\n"
        "<p>New uploads are placed on the other providers; when none has room they fail with "
        "&quot;all storage providers are full&quot;. Free space or raise the limit to bring it back. "
        "This alert is sent once per crossing of the limit.</p>\n"
        "</body></html>\n",
        p, p, c.used_bytes, human_bytes(c.used_bytes), c.limit_bytes, human_bytes(c.limit_bytes), percent, iso_utc(at));
    return e;
}

std::string render_message(const email& e, std::string_view from, const std::vector<std::string>& to,
                           std::chrono::system_clock::time_point date, std::string_view boundary,
                           std::string_view message_id) {
    std::string recipients;
    for (const auto& r : to) recipients += (recipients.empty() ? "" : ", ") + mailbox(r);
    std::string m;
    m += "Date: " + rfc5322_date(date) + "\r\n";
    m += "From: " + mailbox(from) + "\r\n";
    m += "To: " + recipients + "\r\n";
    m += "Message-ID: <" + header_safe(message_id) + ">\r\n";
    m += "Subject: " + header_safe(e.subject) + "\r\n";
    m += "MIME-Version: 1.0\r\n";
    m += fmt::format("Content-Type: multipart/alternative; boundary=\"{}\"\r\n", boundary);
    m += "\r\n";
    m += "This is a multi-part message in MIME format.\r\n";
    for (const auto& [type, body] : {std::pair{"text/plain", &e.text}, std::pair{"text/html", &e.html}}) {
        m += fmt::format("\r\n--{}\r\n", boundary);
        m += fmt::format("Content-Type: {}; charset=UTF-8\r\n", type);
        m += "Content-Transfer-Encoding: quoted-printable\r\n\r\n";
        m += quoted_printable(*body);
    }
    m += fmt::format("\r\n--{}--\r\n", boundary);
    return m;
}

smtp_settings smtp_settings_from(const wharf::config& cfg) {
    smtp_settings s;
    s.url = cfg.get_or("smtp_url", "");
    if (!s.url.empty() && !s.url.starts_with("smtp://") && !s.url.starts_with("smtps://"))
        throw config_error("smtp_url must start with smtp:// or smtps://, got " + redact(s.url));
    s.from = cfg.get_or("smtp_from", "wharf@localhost");
    const std::string to = cfg.get_or("alert_to", "");
    for (std::size_t start = 0; start <= to.size();) {
        const auto comma = std::min(to.find(',', start), to.size());
        std::string one = to.substr(start, comma - start);
        one.erase(0, one.find_first_not_of(" \t"));
        one.erase(one.find_last_not_of(" \t") + 1);
        if (!one.empty()) s.to.push_back(one);
        start = comma + 1;
    }
    s.username = cfg.get("smtp_username");
    s.password = cfg.get("smtp_password");
    const std::string tls = cfg.get_or("smtp_tls", "try");
    if (tls == "none") s.tls = smtp_tls::none;
    else if (tls == "try") s.tls = smtp_tls::try_tls;
    else if (tls == "require") s.tls = smtp_tls::require;
    else throw config_error("smtp_tls must be none, try or require, got \"" + tls + "\"");
    s.ca_file = cfg.get("smtp_ca_file");
    return s;
}

std::vector<wharf::option_spec> alert_option_specs() {
    return {
        {"smtp_url", "SMTP server for \"provider full\" alerts: smtp://host:587 (STARTTLS) or smtps://host:465"},
        {"smtp_from", "sender address of alerts", false, "wharf@localhost"},
        {"alert_to", "comma-separated recipients of alerts (none: alerts are only logged)"},
        {"smtp_username", "SMTP user"},
        {"smtp_password", "SMTP password"},
        {"smtp_tls", "STARTTLS on smtp:// URLs: none, try or require", false, "try"},
        {"smtp_ca_file", "extra CA certificate (PEM) to trust for the SMTP server"},
    };
}

smtp_mailer::smtp_mailer(smtp_settings settings) : settings_(std::move(settings)) { curl_global(); }

void smtp_mailer::send(const email& e) const {
    if (!settings_.enabled()) throw alert_error("SMTP is not configured (smtp_url, alert_to)");
    const std::string host_part = settings_.url.substr(0, settings_.url.find('/', settings_.url.find("://") + 3));
    const std::string domain = [&] {
        const auto at = settings_.from.rfind('@');
        return at == std::string::npos ? std::string("wharf.localhost") : header_safe(settings_.from.substr(at + 1));
    }();
    const std::string message = render_message(e, settings_.from, settings_.to, std::chrono::system_clock::now(),
                                               "=_wharf_" + random_token(), random_token() + "@" + domain);

    std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), &curl_easy_cleanup);
    if (!curl) throw alert_error("curl_easy_init failed");
    curl_slist* rcpt = nullptr;
    for (const auto& r : settings_.to) rcpt = curl_slist_append(rcpt, mailbox(r).c_str());
    std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> rcpt_guard(rcpt, &curl_slist_free_all);

    upload_source source{message};
    char error_buffer[CURL_ERROR_SIZE] = {};
    CURL* h = curl.get();
    const std::string from = mailbox(settings_.from);
    curl_easy_setopt(h, CURLOPT_URL, settings_.url.c_str());
    curl_easy_setopt(h, CURLOPT_MAIL_FROM, from.c_str());
    curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, &read_body);
    curl_easy_setopt(h, CURLOPT_READDATA, &source);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(message.size()));
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);  // we run on a worker thread: no SIGALRM games
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, static_cast<long>(settings_.connect_timeout.count()));
    curl_easy_setopt(h, CURLOPT_TIMEOUT, static_cast<long>(settings_.timeout.count()));
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer);
    const long use_ssl = settings_.tls == smtp_tls::none      ? CURLUSESSL_NONE
                         : settings_.tls == smtp_tls::try_tls ? CURLUSESSL_TRY
                                                              : CURLUSESSL_ALL;
    curl_easy_setopt(h, CURLOPT_USE_SSL, use_ssl);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, settings_.verify_peer ? 1L : 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, settings_.verify_peer ? 2L : 0L);
    if (settings_.ca_file) curl_easy_setopt(h, CURLOPT_CAINFO, settings_.ca_file->c_str());
    if (settings_.username) curl_easy_setopt(h, CURLOPT_USERNAME, settings_.username->c_str());
    if (settings_.password) curl_easy_setopt(h, CURLOPT_PASSWORD, settings_.password->c_str());

    const CURLcode rc = curl_easy_perform(h);
    if (rc != CURLE_OK) {
        long smtp_code = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &smtp_code);
        throw alert_error(fmt::format("sending mail through {} failed: {} ({}){}", redact(host_part),
                                      error_buffer[0] ? error_buffer : curl_easy_strerror(rc),
                                      static_cast<int>(rc),
                                      smtp_code ? fmt::format(", last SMTP reply {}", smtp_code) : ""));
    }
}

struct alert_dispatcher::impl {
    catalog db;
    smtp_mailer mailer;
    dispatcher_options options;
    asio::thread_pool mail_thread{1};

    impl(catalog c, smtp_settings s, dispatcher_options o) : db(c), mailer(std::move(s)), options(o) {}
};

alert_dispatcher::alert_dispatcher(catalog db, smtp_settings settings, dispatcher_options options)
    : impl_(std::make_shared<impl>(db, std::move(settings), options)) {}

alert_dispatcher::~alert_dispatcher() {
    impl_->mail_thread.join();  // a send under way finishes (bounded by the SMTP timeout)
}

asio::awaitable<bool> alert_dispatcher::dispatch(full_crossing crossing) {
    auto self = impl_;  // the frame keeps the dispatcher's state alive
    const email message = format_full_alert(crossing, std::chrono::system_clock::now());
    if (!self->mailer.settings().enabled()) {
        // Nowhere to send it: say it loudly once, and do not retry forever.
        spdlog::warn("storage provider {} is full ({} of {}); no alert recipients configured (smtp_url, alert_to)",
                     crossing.provider, human_bytes(crossing.used_bytes), human_bytes(crossing.limit_bytes));
        auto mark = self->db.db().run([&](pqxx::connection& c) { return mark_alert_sent(c, crossing); });
        co_await std::move(mark);
        co_return false;
    }
    std::string failure;
    try {
        // The frame's `self` keeps the mailer alive; the mail thread must not hold the last
        // reference (it would have to join itself).
        // libcurl blocks for the whole SMTP conversation: not on an I/O (or PostgreSQL pool) thread.
        auto send = wharf::offload(self->mail_thread.get_executor(), [mailer = &self->mailer, &message] {
            mailer->send(message);
            return true;
        });
        co_await std::move(send);
    } catch (const alert_error& e) {
        failure = e.what();
    }
    if (failure.empty()) {
        metrics::default_registry()
            .counters("wharf_alerts_sent_total", "\"Provider full\" alert emails sent.", {"provider"})
            .with({crossing.provider})
            .inc();
        auto mark = self->db.db().run([&](pqxx::connection& c) { return mark_alert_sent(c, crossing); });
        const bool marked = co_await std::move(mark);
        spdlog::info("sent \"provider full\" alert for {} (crossing {}){}", crossing.provider, crossing.generation,
                     marked ? "" : "; usage dropped meanwhile, so it is not marked");
        co_return true;
    }
    const auto delay = self->options.retry.delay(crossing.failed_sends + 1, jitter_rng());
    spdlog::warn("alert for full provider {} not sent, retrying in {} ms: {}", crossing.provider, delay.count(),
                 failure);
    auto release = self->db.db().run([&](pqxx::connection& c) { release_alert(c, crossing, delay); });
    co_await std::move(release);
    co_return false;
}

asio::awaitable<std::size_t> alert_dispatcher::sweep() {
    auto claim = impl_->db.db().run([](pqxx::connection& c) { return claim_due_alerts(c); });
    auto due = co_await std::move(claim);
    std::size_t sent = 0;
    for (auto& crossing : due) {
        auto one = dispatch(std::move(crossing));
        if (co_await std::move(one)) ++sent;
    }
    co_return sent;
}

asio::awaitable<void> alert_dispatcher::run(std::chrono::milliseconds interval) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    for (;;) {
        try {
            auto round = sweep();
            co_await std::move(round);
        } catch (const std::exception& e) {
            // A database outage must not end the sweeper; the next round retries.
            spdlog::warn("alert sweep failed: {}", e.what());
        }
        timer.expires_after(interval);
        co_await timer.async_wait(asio::use_awaitable);
    }
}

}  // namespace wharf::storage

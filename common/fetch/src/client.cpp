// The fetch client: one libcurl easy handle per transfer, driven by its own multi handle on a
// transfer thread (why: client.hpp), with the egress policy, the limits and the sink wired into
// libcurl's callbacks, and the outcome posted back to the caller's executor.
#include "wharf/fetch/client.hpp"

#include "wharf/fetch/content_type.hpp"

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <curl/curl.h>
#include <fmt/format.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <charconv>
#include <cstring>
#include <mutex>
#include <thread>

namespace wharf::fetch {
namespace {

namespace asio = boost::asio;
namespace ip = boost::asio::ip;

constexpr std::size_t max_header_value = 1024;
constexpr long receive_buffer = 512 * 1024;  // fewer, larger write callbacks on fast links

void global_init() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
    return out;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
        s.remove_suffix(1);
    return s;
}

// A server's text in a message: printable ASCII only, bounded.
std::string printable(std::string_view s, std::size_t max = 100) {
    std::string out;
    for (char c : s.substr(0, max)) out += (c >= 0x20 && c <= 0x7e) ? c : '?';
    return out;
}

// libcurl's own message, fit for a log and a row: printable, and any URL in it redacted.
std::string curl_message(std::string_view text) {
    std::string in = printable(text, 512), out;
    for (std::size_t at = 0; at < in.size();) {
        const auto scheme = in.find("://", at);
        if (scheme == std::string::npos) {
            out.append(in, at);
            break;
        }
        auto start = scheme;
        while (start > at && std::isalpha(static_cast<unsigned char>(in[start - 1]))) --start;
        auto end = in.find_first_of(" \"'", scheme);
        if (end == std::string::npos) end = in.size();
        out.append(in, at, start - at);
        out += redact_url(std::string_view(in).substr(start, end - start));
        at = end;
    }
    return out;
}

class transfer {
public:
    transfer(request req, limits lim, std::shared_ptr<const egress_policy> policy, sink& out)
        : req_(std::move(req)), lim_(std::move(lim)), policy_(std::move(policy)), out_(out) {
        global_init();
        easy_ = curl_easy_init();
        multi_ = curl_multi_init();
        if (!easy_ || !multi_) {
            cleanup();
            throw error(errc::local, "libcurl could not start a transfer");
        }
        configure();
    }
    ~transfer() { cleanup(); }
    transfer(const transfer&) = delete;
    transfer& operator=(const transfer&) = delete;

    // Any thread: the transfer ends within milliseconds, failing with errc::cancelled.
    void cancel() noexcept {
        cancelled_ = true;
        std::lock_guard lock(multi_mutex_);
        if (multi_) curl_multi_wakeup(multi_);
    }

    // On the transfer thread, once: runs the transfer to its end. Never throws.
    std::pair<std::exception_ptr, fetch_result> run() noexcept {
        fetch_result result;
        std::exception_ptr failure;
        try {
            const CURLcode rc = perform();
            if (failure_) {
                failure = failure_;
            } else if (rc != CURLE_OK) {
                failure = std::make_exception_ptr(error_of(rc));
            } else if (!begun_) {
                failure = std::make_exception_ptr(error(errc::protocol, "the server sent no response"));
            } else {
                out_.finish();
                result.head = head_;
                result.body_bytes = body_;
                char* final_url = nullptr;
                if (curl_easy_getinfo(easy_, CURLINFO_EFFECTIVE_URL, &final_url) == CURLE_OK && final_url)
                    result.final_url = redact_url(final_url);
            }
        } catch (...) {
            failure = std::current_exception();
        }
        cleanup();
        return {failure, std::move(result)};
    }

private:
    void configure() {
        CURL* h = easy_;
        curl_easy_setopt(h, CURLOPT_URL, req_.url.text.c_str());
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(h, CURLOPT_MAXREDIRS, lim_.max_redirects);
        // "" disables proxies, also those named by http_proxy/https_proxy/ALL_PROXY.
        curl_easy_setopt(h, CURLOPT_PROXY, "");
        curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
        curl_easy_setopt(h, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS));
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
        curl_easy_setopt(h, CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
        if (req_.ca_file) curl_easy_setopt(h, CURLOPT_CAINFO, req_.ca_file->c_str());
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
        curl_easy_setopt(h, CURLOPT_USERAGENT, "wharf-fetch/0.1");
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(lim_.connect_timeout.count()));
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, static_cast<long>(std::max<std::uint64_t>(lim_.stall_bytes_per_second, 1)));
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, static_cast<long>(std::max<long long>(lim_.stall_window.count(), 1)));
        curl_easy_setopt(h, CURLOPT_BUFFERSIZE, receive_buffer);
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf_);
        if (req_.range) {
            // A continued file must get the same bytes it began with: no content coding (a range
            // of a gzip stream does not decode on its own).
            curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "identity");
            range_ = fmt::format("{}-", req_.range->from);
            curl_easy_setopt(h, CURLOPT_RANGE, range_.c_str());
            headers_ = curl_slist_append(headers_, ("If-Range: " + req_.range->if_range).c_str());
            curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers_);
        } else {
            curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");  // every coding libcurl decodes
        }
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &transfer::on_header);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, this);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &transfer::on_body);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, this);
        curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, &transfer::on_open_socket);
        curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, this);
        curl_easy_setopt(h, CURLOPT_PREREQFUNCTION, &transfer::on_prereq);
        curl_easy_setopt(h, CURLOPT_PREREQDATA, this);
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, &transfer::on_progress);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, this);
    }

    CURLcode perform() {
        if (curl_multi_add_handle(multi_, easy_) != CURLM_OK) throw error(errc::local, "libcurl could not add the transfer");
        int running = 1;
        while (running) {
            if (cancelled_) {
                fail(errc::cancelled, "cancelled");
                return CURLE_ABORTED_BY_CALLBACK;
            }
            if (const auto mc = curl_multi_perform(multi_, &running); mc != CURLM_OK)
                throw error(errc::local, std::string("libcurl: ") + curl_multi_strerror(mc));
            if (!running) break;
            // Wakes up for socket activity, curl's own timers (at most 1 s apart) or cancel().
            if (const auto mc = curl_multi_poll(multi_, nullptr, 0, 1000, nullptr); mc != CURLM_OK)
                throw error(errc::local, std::string("libcurl: ") + curl_multi_strerror(mc));
        }
        int left = 0;
        while (CURLMsg* m = curl_multi_info_read(multi_, &left))
            if (m->msg == CURLMSG_DONE && m->easy_handle == easy_) return m->data.result;
        throw error(errc::local, "libcurl finished without a result");
    }

    void cleanup() noexcept {
        std::lock_guard lock(multi_mutex_);
        if (multi_ && easy_) curl_multi_remove_handle(multi_, easy_);
        if (easy_) curl_easy_cleanup(easy_);
        if (multi_) curl_multi_cleanup(multi_);
        if (headers_) curl_slist_free_all(headers_);
        easy_ = nullptr;
        multi_ = nullptr;
        headers_ = nullptr;
    }

    // The first failure wins: later ones are its consequences.
    void fail(errc code, std::string message, std::optional<int> status = std::nullopt) {
        if (!failure_) failure_ = std::make_exception_ptr(error(code, message, status));
    }

    error error_of(CURLcode rc) const {
        const std::string detail = curl_message(errbuf_[0] ? std::string_view(errbuf_) : curl_easy_strerror(rc));
        switch (rc) {
            case CURLE_COULDNT_CONNECT:
                if (!egress_refusal_.empty()) return error(errc::egress_refused, egress_refusal_);
                return error(errc::connect, "could not connect: " + detail);
            case CURLE_COULDNT_RESOLVE_HOST: return error(errc::resolve, "could not resolve the host: " + detail);
            case CURLE_OPERATION_TIMEDOUT:
                if (detail.find("too slow") != std::string::npos)
                    return error(errc::stalled,
                                 fmt::format("stalled: under {} bytes/s for {} s", lim_.stall_bytes_per_second,
                                             lim_.stall_window.count()));
                return error(errc::connect, "timed out: " + detail);
            case CURLE_UNSUPPORTED_PROTOCOL:
                return error(errc::protocol_refused, "only http and https may be fetched (a redirect led elsewhere): " + detail);
            case CURLE_URL_MALFORMAT: return error(errc::bad_url, "libcurl refused the URL: " + detail);
            case CURLE_TOO_MANY_REDIRECTS:
                return error(errc::too_many_redirects, fmt::format("more than {} redirects", lim_.max_redirects));
            case CURLE_PEER_FAILED_VERIFICATION: return error(errc::tls_verify, "TLS verification failed: " + detail);
            case CURLE_BAD_CONTENT_ENCODING: return error(errc::bad_encoding, "the body did not decode: " + detail);
            case CURLE_SSL_CACERT_BADFILE: return error(errc::local, "the CA file did not load: " + detail);
            case CURLE_WEIRD_SERVER_REPLY: return error(errc::protocol, "not an HTTP reply: " + detail);
            default: return error(errc::reset, detail);
        }
    }

    // A whole response head has arrived. Returns false to abort the transfer.
    bool end_of_head() {
        long code = 0;
        curl_easy_getinfo(easy_, CURLINFO_RESPONSE_CODE, &code);
        head_.status = static_cast<int>(code);
        if (code < 200) return true;                                  // 1xx: the real one follows
        if (code >= 300 && code < 400 && has_location_) return true;  // libcurl follows it
        begun_ = true;
        long version = 0;
        curl_easy_getinfo(easy_, CURLINFO_HTTP_VERSION, &version);
        head_.http_version = version == CURL_HTTP_VERSION_3 ? 3 : version == CURL_HTTP_VERSION_2_0 ? 2 : 1;
        const bool ranged = req_.range.has_value();
        if (code == 206 && !ranged) {
            fail(errc::protocol, "206 Partial Content to a request without Range");
            return false;
        }
        if ((code < 200 || code >= 300) && !(code == 416 && ranged)) {
            fail(errc::http_status, fmt::format("HTTP status {}", code), static_cast<int>(code));
            return false;
        }
        if (code != 416 && !media_type_allowed(lim_.content_types, head_.content_type)) {
            fail(errc::content_type, fmt::format("content type \"{}\" is not allowed", printable(head_.content_type)));
            return false;
        }
        try {
            const auto start = out_.begin(head_);
            take_body_ = start.has_value();
            base_ = start.value_or(0);
        } catch (...) {
            if (!failure_) failure_ = std::current_exception();
            return false;
        }
        const bool identity = head_.content_encoding.empty() || head_.content_encoding == "identity";
        if (take_body_ && identity && head_.content_length && base_ + *head_.content_length > lim_.max_bytes) {
            fail(errc::too_large, fmt::format("the body is {} bytes (Content-Length) from offset {}, over the cap of {} bytes",
                                              *head_.content_length, base_, lim_.max_bytes));
            return false;
        }
        return true;
    }

    void keep_header(std::string_view line) {
        const auto colon = line.find(':');
        if (colon == std::string_view::npos) return;
        const auto name = lower(trim(line.substr(0, colon)));
        const auto value = trim(line.substr(colon + 1));
        if (name == "location") {
            has_location_ = true;
            return;
        }
        if (value.size() > max_header_value) return;
        if (name == "content-length") {
            std::uint64_t n = 0;
            const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
            if (ec == std::errc{} && end == value.data() + value.size()) head_.content_length = n;
        } else if (name == "content-type") {
            head_.content_type = lower(trim(value.substr(0, value.find(';'))));
        } else if (name == "content-encoding") {
            head_.content_encoding = lower(value);
        } else if (name == "etag") {
            head_.etag = std::string(value);
        } else if (name == "last-modified") {
            head_.last_modified = std::string(value);
        } else if (name == "content-range") {
            head_.content_range = std::string(value);
        }
    }

    static std::size_t on_header(char* data, std::size_t size, std::size_t n, void* self) {
        auto& t = *static_cast<transfer*>(self);
        const std::size_t bytes = size * n;
        const std::string_view line(data, bytes);
        if (t.begun_) return bytes;  // trailers
        if (line.starts_with("HTTP/")) {
            t.head_ = response_head{};
            t.has_location_ = false;
        } else if (trim(line).empty()) {
            if (!t.end_of_head()) return 0;  // != bytes: libcurl aborts
        } else {
            t.keep_header(line);
        }
        return bytes;
    }

    static std::size_t on_body(char* data, std::size_t size, std::size_t n, void* self) {
        auto& t = *static_cast<transfer*>(self);
        const std::size_t bytes = size * n;
        if (t.cancelled_) {
            t.fail(errc::cancelled, "cancelled");
            return CURL_WRITEFUNC_ERROR;
        }
        if (!t.begun_) {
            t.fail(errc::protocol, "a body before the response head");
            return CURL_WRITEFUNC_ERROR;
        }
        if (!t.take_body_) return bytes;  // a 416's explanation
        if (t.base_ + t.body_ + bytes > t.lim_.max_bytes) {
            t.fail(errc::too_large, fmt::format("the body passed the cap of {} bytes (from offset {})", t.lim_.max_bytes, t.base_));
            return CURL_WRITEFUNC_ERROR;
        }
        try {
            t.out_.write(std::span<const char>(data, bytes));
        } catch (...) {
            if (!t.failure_) t.failure_ = std::current_exception();
            return CURL_WRITEFUNC_ERROR;
        }
        t.body_ += bytes;
        return bytes;
    }

    void refuse(const egress_refusal& r) {
        if (egress_refusal_.empty()) egress_refusal_ = r.message;
    }

    static curl_socket_t on_open_socket(void* self, curlsocktype purpose, curl_sockaddr* a) {
        auto& t = *static_cast<transfer*>(self);
        if (purpose != CURLSOCKTYPE_IPCXN) return CURL_SOCKET_BAD;
        ip::address address;
        std::uint16_t port = 0;
        if (a->family == AF_INET && a->addrlen >= sizeof(sockaddr_in)) {
            sockaddr_in sin{};
            std::memcpy(&sin, &a->addr, sizeof sin);
            address = ip::address_v4(ntohl(sin.sin_addr.s_addr));
            port = ntohs(sin.sin_port);
        } else if (a->family == AF_INET6 && a->addrlen >= sizeof(sockaddr_in6)) {
            sockaddr_in6 sin6{};
            std::memcpy(&sin6, &a->addr, sizeof sin6);
            ip::address_v6::bytes_type b{};
            std::memcpy(b.data(), sin6.sin6_addr.s6_addr, b.size());
            address = ip::address_v6(b, sin6.sin6_scope_id);
            port = ntohs(sin6.sin6_port);
        } else {
            return CURL_SOCKET_BAD;  // not an IP connection: nothing a download needs
        }
        if (auto refusal = t.policy_->check(address, port)) {
            t.refuse(*refusal);
            return CURL_SOCKET_BAD;
        }
        return ::socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
    }

    // Before every request, also on a connection reused from the pool.
    static int on_prereq(void* self, char* primary_ip, char*, int primary_port, int) {
        auto& t = *static_cast<transfer*>(self);
        boost::system::error_code ec;
        const auto address = ip::make_address(primary_ip ? primary_ip : "", ec);
        if (ec || primary_port <= 0 || primary_port > 65535) {
            t.fail(errc::egress_refused, "egress refused: the connection's address is unknown");
            return CURL_PREREQFUNC_ABORT;
        }
        if (auto refusal = t.policy_->check(address, static_cast<std::uint16_t>(primary_port))) {
            t.fail(errc::egress_refused, refusal->message);
            return CURL_PREREQFUNC_ABORT;
        }
        return CURL_PREREQFUNC_OK;
    }

    static int on_progress(void* self, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
        auto& t = *static_cast<transfer*>(self);
        if (!t.cancelled_) return 0;
        t.fail(errc::cancelled, "cancelled");
        return 1;
    }

    request req_;
    limits lim_;
    std::shared_ptr<const egress_policy> policy_;
    sink& out_;
    CURL* easy_ = nullptr;
    CURLM* multi_ = nullptr;
    std::mutex multi_mutex_;  // multi_'s lifetime against cancel() from another thread
    curl_slist* headers_ = nullptr;
    std::string range_;
    std::atomic<bool> cancelled_{false};
    char errbuf_[CURL_ERROR_SIZE] = {};

    // The transfer thread's own state.
    response_head head_;
    bool has_location_ = false;
    bool begun_ = false;  // the final head arrived and was accepted
    bool take_body_ = true;
    std::uint64_t base_ = 0, body_ = 0;
    std::exception_ptr failure_;
    std::string egress_refusal_;
};

// A transfer's own thread, joined by its completion once the thread has posted it.
struct transfer_thread {
    std::mutex mutex;
    std::thread thread;

    void join() {
        std::thread done;
        {
            std::lock_guard lock(mutex);
            done = std::move(thread);
        }
        if (done.joinable()) done.join();
    }
    // The completion was destroyed without running (its io_context went first): nothing joins.
    ~transfer_thread() {
        if (thread.joinable()) thread.detach();
    }
};

}  // namespace

std::string_view to_string(errc code) noexcept {
    switch (code) {
        case errc::bad_url: return "bad_url";
        case errc::egress_refused: return "egress_refused";
        case errc::http_status: return "http_status";
        case errc::too_large: return "too_large";
        case errc::content_type: return "content_type";
        case errc::too_many_redirects: return "too_many_redirects";
        case errc::protocol_refused: return "protocol_refused";
        case errc::tls_verify: return "tls_verify";
        case errc::bad_encoding: return "bad_encoding";
        case errc::resolve: return "resolve";
        case errc::connect: return "connect";
        case errc::stalled: return "stalled";
        case errc::reset: return "reset";
        case errc::protocol: return "protocol";
        case errc::cancelled: return "cancelled";
        case errc::local: return "local";
    }
    return "unknown";
}

bool status_retryable(int status) noexcept {
    if (status == 408 || status == 429) return true;
    if (status >= 300 && status < 500) return false;
    return true;
}

bool error::retryable() const noexcept {
    switch (code_) {
        case errc::http_status: return status_retryable(status_.value_or(500));
        case errc::resolve:
        case errc::connect:
        case errc::stalled:
        case errc::reset:
        case errc::protocol:
        case errc::cancelled:
        case errc::local: return true;
        default: return false;
    }
}

client::client(egress_policy policy) : policy_(std::make_shared<const egress_policy>(std::move(policy))) {}

// Not a coroutine: the transfer is set up here and handed to the initiation, so nothing of it
// lives in a coroutine frame (see offload.hpp for the GCC 12 reason).
asio::awaitable<fetch_result> client::fetch(request req, limits lim, sink& out) const {
    auto t = std::make_shared<transfer>(std::move(req), std::move(lim), policy_, out);
    return asio::async_initiate<decltype(asio::use_awaitable), void(std::exception_ptr, fetch_result)>(
        [](auto handler, std::shared_ptr<transfer> t) {
            auto slot = asio::get_associated_cancellation_slot(handler);
            if (slot.is_connected()) slot.assign([t](asio::cancellation_type) { t->cancel(); });
            // The caller's io_context counts the transfer as outstanding work until the
            // completion has run (the guard travels inside it and is released there). The
            // completion joins the transfer thread first: that thread's post may still be
            // signalling the io_context's wake-up event when the completion already runs on an
            // I/O thread, and a caller that destroys its io_context once the awaited result is in
            // (a test's run_one loop) must not race that signal. The join waits microseconds: the
            // thread does nothing after its post.
            auto home = asio::get_associated_executor(handler);
            auto work = asio::make_work_guard(home);
            auto thread = std::make_shared<transfer_thread>();
            std::lock_guard lock(thread->mutex);  // the completion's join sees the thread assigned
            thread->thread = std::thread([t = std::move(t), h = std::move(handler), home = std::move(home),
                                          work = std::move(work), thread]() mutable {
                auto [failure, result] = t->run();
                t.reset();
                asio::post(home, [h = std::move(h), work = std::move(work), thread, failure,
                                  result = std::move(result)]() mutable {
                    thread->join();
                    asio::get_associated_cancellation_slot(h).clear();
                    std::move(h)(failure, std::move(result));
                });
            });
        },
        asio::use_awaitable, std::move(t));
}

}  // namespace wharf::fetch

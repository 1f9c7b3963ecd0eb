// connection: the pipelined client -- a request queue, one writer, one reader and one watchdog
// coroutine per connected session, and the connect/handshake sequence.
#include "wharf/redis/connection.hpp"

#include "stream.hpp"
#include "wharf/core/log.hpp"
#include "wharf/redis/detail/resp.hpp"

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <openssl/ssl.h>

#include <deque>
#include <optional>

namespace wharf::redis {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;
using steady = std::chrono::steady_clock;

namespace {

constexpr std::size_t read_chunk = 64 * 1024;
// Output buffers keep their capacity between writes (no allocation per batch), unless one huge
// pipeline grew them past this.
constexpr std::size_t max_kept_buffer = 4 * 1024 * 1024;

// One call waiting for its replies: exec (one reply) or exec_pipeline (many).
struct request {
    std::size_t expected = 0;
    std::size_t received = 0;
    std::chrono::milliseconds timeout{};
    // Set when the request is handed to the writer; max while it waits for a connection.
    steady::time_point deadline = steady::time_point::max();
    bool many = false;
    bool waiting = false;    // handler holds the caller, not yet completed
    bool abandoned = false;  // the caller was cancelled: replies are read and dropped
    reply one;
    std::vector<reply> replies;
    asio::any_completion_handler<void(std::exception_ptr)> handler;
    asio::any_io_executor handler_ex;
    asio::cancellation_slot slot;

    void deliver(reply r) {
        ++received;
        if (abandoned) return;
        if (many) {
            replies.push_back(std::move(r));
        } else {
            one = std::move(r);
        }
    }
};

// Resumes the caller. Always posted, never invoked inline: the caller may issue its next command
// at once, and that must not happen in the middle of the reader's walk over the queue.
void finish(request& r, std::exception_ptr ep, const asio::any_io_executor& fallback) {
    if (!r.waiting) return;
    r.waiting = false;
    // To the caller's own executor (its strand), captured when it started waiting.
    asio::post(r.handler_ex ? r.handler_ex : fallback,
               [h = std::move(r.handler), ep = std::move(ep)]() mutable { std::move(h)(ep); });
}

std::exception_ptr aborted() {
    return std::make_exception_ptr(boost::system::system_error(asio::error::operation_aborted));
}

// Everything that belongs to one TCP/TLS/unix connection. A reconnect makes a new session; the
// old one lives on (shared by its coroutines) until they have noticed and returned.
struct session {
    session(const asio::any_io_executor& ex, detail::stream::kind k, ssl::context* tls, std::size_t max_reply)
        : io(ex, k, tls), reader(max_reply), wake_writer(ex), watchdog(ex), connect_timer(ex), resolver(ex) {}

    void close() noexcept {
        io.close();
        resolver.cancel();
        wake_writer.cancel();
        watchdog.cancel();
        connect_timer.cancel();
    }

    detail::stream io;
    detail::resp_reader reader;
    std::vector<char> inbuf = std::vector<char>(read_chunk);
    std::string writing;                 // the batch being written
    asio::steady_timer wake_writer;      // waits "forever"; cancel() wakes the writer
    bool writer_idle = false;
    asio::steady_timer watchdog;         // the one deadline timer of the connection
    steady::time_point watchdog_at = steady::time_point::max();
    asio::steady_timer connect_timer;
    tcp::resolver resolver;
    bool connect_timed_out = false;
};

bool is_ip_address(const std::string& host) {
    boost::system::error_code ec;
    (void)asio::ip::make_address(host, ec);
    return !ec;
}

}  // namespace

struct connection::impl : std::enable_shared_from_this<connection::impl> {
    enum class state { idle, connecting, connected, closed };

    impl(asio::any_io_executor e, endpoint w, connection_options o)
        : ex(std::move(e)), where(std::move(w)), opts(std::move(o)), display(where.to_display_string()),
          backoff_timer(ex) {}

    asio::any_io_executor ex;
    endpoint where;
    connection_options opts;
    std::string display;  // password masked: the only form of the endpoint that is logged

    state st = state::idle;
    std::shared_ptr<session> current;  // while connecting or connected
    // Every call not answered yet, in the order its bytes were (or will be) written. The last
    // `unwritten` of them have their bytes in `outbox`, waiting for the writer.
    std::deque<std::shared_ptr<request>> pending;
    std::size_t unwritten = 0;
    std::string outbox;
    std::optional<ssl::context> tls_context;
    std::uint32_t failed_connects = 0;
    std::uint64_t sessions = 0;  // connects that succeeded
    asio::steady_timer backoff_timer;

    // --- calls -------------------------------------------------------------------------------

    void enqueue(const std::shared_ptr<request>& req, const command* cmds, std::size_t count) {
        if (st == state::closed) throw error(error::kind::closed, "Redis connection to " + display + " is closed");
        // Checked before any byte is queued: a half-queued pipeline would shift every later reply.
        for (std::size_t i = 0; i < count; ++i)
            if (cmds[i].empty()) throw std::invalid_argument("wharf::redis: empty command");
        for (std::size_t i = 0; i < count; ++i) detail::append_command(outbox, cmds[i]);
        pending.push_back(req);
        ++unwritten;
        if (st == state::idle) {
            start_connect();
        } else if (st == state::connected && current->writer_idle) {
            current->writer_idle = false;
            current->wake_writer.cancel();
        }
    }

    // Suspends the caller until finish() (or its cancellation) resumes it.
    asio::awaitable<void> wait(std::shared_ptr<request> req) {
        return asio::async_initiate<decltype(asio::use_awaitable), void(std::exception_ptr)>(
            [req, fallback = ex](auto handler) {
                auto slot = asio::get_associated_cancellation_slot(handler);
                if (slot.is_connected()) {
                    req->slot = slot;
                    // A weak reference: the slot may outlive the call (it belongs to the caller's
                    // coroutine) and is not cleared from inside its own handler.
                    slot.assign([weak = std::weak_ptr<request>(req), fallback](asio::cancellation_type) {
                        auto r = weak.lock();
                        if (!r || !r->waiting) return;
                        r->abandoned = true;
                        finish(*r, aborted(), fallback);
                    });
                }
                req->handler_ex = asio::get_associated_executor(handler, fallback);
                // Constructed, then swapped in: Boost 1.81's any_completion_handler move
                // assignment copies its argument as an lvalue and recurses without end.
                asio::any_completion_handler<void(std::exception_ptr)> erased(std::move(handler));
                req->handler.swap(erased);
                req->waiting = true;
            },
            asio::use_awaitable);
    }

    void complete(request& r, std::exception_ptr ep) {
        if (!r.waiting) return;
        if (r.slot.is_connected()) r.slot.clear();
        finish(r, std::move(ep), ex);
    }

    void fail_pending(const error& e) {
        const auto ep = std::make_exception_ptr(e);
        // Moved out first: completing may not re-enter (it posts), but keep the queue consistent
        // regardless.
        auto failed = std::move(pending);
        pending.clear();
        unwritten = 0;
        outbox.clear();
        for (auto& r : failed) complete(*r, ep);
    }

    steady::time_point earliest_deadline() const {
        auto earliest = steady::time_point::max();
        for (const auto& r : pending) earliest = std::min(earliest, r->deadline);
        return earliest;
    }

    // Tears the current session down after an I/O error, a protocol error or a timeout. Only the
    // first report for a session counts; the coroutines of an old session just return.
    void drop(const std::shared_ptr<session>& s, const error& e) {
        if (current != s) return;
        current.reset();
        if (st != state::closed) st = state::idle;
        s->close();
        spdlog::warn("redis: connection to {} dropped: {}", display, e.what());
        fail_pending(e);
    }

    void close() {
        if (st == state::closed) return;
        st = state::closed;
        if (auto s = std::exchange(current, nullptr)) s->close();
        backoff_timer.cancel();
        fail_pending(error(error::kind::closed, "Redis connection to " + display + " was closed"));
    }

    // --- connecting ----------------------------------------------------------------------------

    void start_connect() {
        st = state::connecting;
        asio::co_spawn(ex, connect(shared_from_this()), asio::detached);
    }

    ssl::context& tls() {
        if (tls_context) return *tls_context;
        ssl::context ctx(ssl::context::tls_client);
        SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
        if (where.tls_verify) {
            boost::system::error_code ec;
            if (!where.tls_ca_file.empty()) {
                ctx.load_verify_file(where.tls_ca_file, ec);
                if (ec)
                    throw error(error::kind::io,
                                "cannot load the TLS CA file '" + where.tls_ca_file + "': " + ec.message());
            } else {
                ctx.set_default_verify_paths(ec);
                if (ec) throw error(error::kind::io, "cannot load the system's TLS CA certificates: " + ec.message());
            }
            ctx.set_verify_mode(ssl::verify_peer);
        } else {
            ctx.set_verify_mode(ssl::verify_none);
        }
        tls_context.emplace(std::move(ctx));
        return *tls_context;
    }

    // Reads one reply during the handshake (before the reader coroutine exists).
    static asio::awaitable<reply> read_reply(session& s) {
        for (;;) {
            if (auto r = s.reader.next()) co_return std::move(*r);
            const auto n = co_await s.io.async_read_some(asio::buffer(s.inbuf), asio::use_awaitable);
            s.reader.feed(s.inbuf.data(), n);
        }
    }

    asio::awaitable<void> establish(session& s) {
        if (s.io.which() == detail::stream::kind::unix_socket) {
            co_await s.io.unix_socket().async_connect(asio::local::stream_protocol::endpoint(where.unix_socket),
                                                      asio::use_awaitable);
        } else {
            auto results = co_await s.resolver.async_resolve(where.host, std::to_string(where.port),
                                                             asio::use_awaitable);
            co_await asio::async_connect(s.io.tcp_socket(), results, asio::use_awaitable);
            // Small requests and replies are the whole workload: never wait for Nagle.
            s.io.tcp_socket().set_option(tcp::no_delay(true));
            s.io.tcp_socket().set_option(asio::socket_base::keep_alive(true));
            if (s.io.which() == detail::stream::kind::tls) {
                const std::string& name = where.tls_sni.empty() ? where.host : where.tls_sni;
                auto& tls_stream = s.io.tls_stream();
                // SNI carries host names only (RFC 6066), never IP literals.
                if (!is_ip_address(name) && SSL_set_tlsext_host_name(tls_stream.native_handle(), name.c_str()) != 1)
                    throw error(error::kind::io, "cannot set TLS SNI to '" + name + "'");
                if (where.tls_verify) tls_stream.set_verify_callback(ssl::host_name_verification(name));
                auto [ec] = co_await tls_stream.async_handshake(ssl::stream_base::client,
                                                               asio::as_tuple(asio::use_awaitable));
                if (ec) {
                    // The verification result says more than "handshake failed".
                    const long verify = SSL_get_verify_result(tls_stream.native_handle());
                    std::string why = ec.message();
                    if (verify != X509_V_OK) why += std::string(" (") + X509_verify_cert_error_string(verify) + ")";
                    throw error(error::kind::io, "TLS handshake with " + display + " failed: " + why);
                }
            }
        }

        // AUTH, SELECT and CLIENT SETNAME in one write. Without a password a PING stands in for
        // AUTH, so a server that wants one says NOAUTH now rather than on the first real call.
        enum class step { auth, ping, select, setname };
        std::vector<step> steps;
        std::string out;
        if (!where.password.empty()) {
            if (where.username.empty()) {
                detail::append_command(out, {"AUTH", where.password});
            } else {
                detail::append_command(out, {"AUTH", where.username, where.password});
            }
            steps.push_back(step::auth);
        } else {
            detail::append_command(out, {"PING"});
            steps.push_back(step::ping);
        }
        if (where.db != 0) {
            detail::append_command(out, {"SELECT", std::to_string(where.db)});
            steps.push_back(step::select);
        }
        if (!opts.client_name.empty()) {
            detail::append_command(out, {"CLIENT", "SETNAME", opts.client_name});
            steps.push_back(step::setname);
        }
        co_await asio::async_write(s.io, asio::buffer(out), asio::use_awaitable);
        std::optional<error> first_failure;
        for (step st_ : steps) {
            reply r = co_await read_reply(s);
            if (!r.is_error() || first_failure) continue;
            switch (st_) {
            case step::auth:
                // The server's text ("WRONGPASS invalid username-password pair ...") never holds
                // the password; neither does display.
                first_failure.emplace(error::kind::auth, "Redis at " + display + " rejected the credentials: " + r.str());
                break;
            case step::ping:
                if (r.str().starts_with("NOAUTH"))
                    first_failure.emplace(error::kind::auth, "Redis at " + display +
                                                                 " requires a password (put it in the URL: "
                                                                 "redis://:password@host): " + r.str());
                else if (r.str().starts_with("LOADING") || r.str().starts_with("BUSY") ||
                         r.str().starts_with("MASTERDOWN"))
                    // A server still loading its data set (after a restart), running a slow
                    // script, or a replica without its primary: it will answer soon, so this is
                    // worth a reconnect with backoff, like an I/O error.
                    first_failure.emplace(error::kind::io, "Redis at " + display + " is not ready: " + r.str());
                else
                    first_failure.emplace(error::kind::protocol, "Redis at " + display + " answered PING with " + r.str());
                break;
            case step::select:
                first_failure.emplace(error::kind::protocol,
                                      "Redis at " + display + " refused SELECT " + std::to_string(where.db) + ": " + r.str());
                break;
            case step::setname:
                // Only a name for operators: not worth failing the connection for.
                spdlog::warn("redis: CLIENT SETNAME on {} failed: {}", display, r.str());
                break;
            }
        }
        if (first_failure) throw *first_failure;
    }

    static asio::awaitable<void> connect(std::shared_ptr<impl> self) {
        if (self->failed_connects > 0) {
            self->backoff_timer.expires_after(self->opts.reconnect_backoff.delay(self->failed_connects, jitter_rng()));
            // Cancelled only by close(), which is checked right below.
            (void)co_await self->backoff_timer.async_wait(asio::as_tuple(asio::use_awaitable));
            if (self->st != state::connecting) co_return;
        } else if (self->st != state::connecting) {
            co_return;
        }
        std::shared_ptr<session> s;
        try {
            const auto k = self->where.unix_socket.empty()
                               ? (self->where.tls ? detail::stream::kind::tls : detail::stream::kind::tcp)
                               : detail::stream::kind::unix_socket;
            s = std::make_shared<session>(self->ex, k, k == detail::stream::kind::tls ? &self->tls() : nullptr,
                                          self->opts.max_reply_bytes);
            self->current = s;
            // The whole attempt (resolve, connect, TLS, handshake) has one deadline: on expiry
            // the socket is closed, which ends whatever step is under way.
            s->connect_timer.expires_after(self->opts.connect_timeout);
            s->connect_timer.async_wait([s](boost::system::error_code ec) {
                if (ec) return;  // cancelled: the attempt ended first
                s->connect_timed_out = true;
                s->io.close();
                s->resolver.cancel();
            });
            co_await self->establish(*s);
            s->connect_timer.cancel();
            if (s->connect_timed_out) throw boost::system::system_error(asio::error::timed_out);
        } catch (const std::exception& e) {
            if (s && self->current != s) co_return;  // closed meanwhile: close() failed the calls
            self->current.reset();
            if (s) s->close();
            ++self->failed_connects;
            if (self->st != state::closed) self->st = state::idle;
            std::optional<error> failure;
            if (auto* re = dynamic_cast<const error*>(&e)) {
                failure = *re;
            } else if (s && s->connect_timed_out) {
                failure.emplace(error::kind::timeout,
                                "cannot connect to Redis at " + self->display + ": no answer within " +
                                    std::to_string(self->opts.connect_timeout.count()) + " ms");
            } else if (auto* se = dynamic_cast<const boost::system::system_error*>(&e)) {
                failure.emplace(error::kind::io,
                                "cannot connect to Redis at " + self->display + ": " + se->code().message());
            } else {
                failure.emplace(error::kind::io, "cannot connect to Redis at " + self->display + ": " + e.what());
            }
            spdlog::warn("redis: {} (attempt {})", failure->what(), self->failed_connects);
            self->fail_pending(*failure);
            co_return;
        }
        if (self->current != s) co_return;
        if (self->failed_connects > 0) spdlog::info("redis: connected to {} again", self->display);
        self->failed_connects = 0;
        ++self->sessions;
        self->st = state::connected;
        asio::co_spawn(self->ex, writer_loop(self, s), asio::detached);
        asio::co_spawn(self->ex, reader_loop(self, s), asio::detached);
        asio::co_spawn(self->ex, watchdog_loop(self, s), asio::detached);
    }

    // --- the three loops of a session ----------------------------------------------------------

    error io_error(const std::exception& e) const {
        if (auto* re = dynamic_cast<const error*>(&e)) return *re;
        if (auto* se = dynamic_cast<const boost::system::system_error*>(&e)) {
            if (se->code() == asio::error::eof)
                return error(error::kind::io, "Redis at " + display + " closed the connection");
            return error(error::kind::io, "Redis I/O error with " + display + ": " + se->code().message());
        }
        return error(error::kind::io, "Redis connection to " + display + " failed: " + e.what());
    }

    static asio::awaitable<void> writer_loop(std::shared_ptr<impl> self, std::shared_ptr<session> s) {
        try {
            for (;;) {
                while (self->outbox.empty()) {
                    s->writer_idle = true;
                    s->wake_writer.expires_at(steady::time_point::max());
                    // Ends only by cancel(): a wake-up from enqueue() or the session's end.
                    (void)co_await s->wake_writer.async_wait(asio::as_tuple(asio::use_awaitable));
                    s->writer_idle = false;
                    if (self->current != s) co_return;
                }
                // Everything queued since the last write goes out in one write.
                s->writing.swap(self->outbox);
                const auto now = steady::now();
                for (auto i = self->pending.size() - self->unwritten; i < self->pending.size(); ++i) {
                    auto& r = *self->pending[i];
                    r.deadline = now + r.timeout;
                    if (r.deadline < s->watchdog_at) {
                        s->watchdog_at = r.deadline;
                        s->watchdog.cancel();
                    }
                }
                self->unwritten = 0;
                co_await asio::async_write(s->io, asio::buffer(s->writing), asio::use_awaitable);
                if (self->current != s) co_return;
                s->writing.clear();
                if (s->writing.capacity() > max_kept_buffer) std::string().swap(s->writing);
            }
        } catch (const std::exception& e) {
            self->drop(s, self->io_error(e));
        }
    }

    static asio::awaitable<void> reader_loop(std::shared_ptr<impl> self, std::shared_ptr<session> s) {
        try {
            for (;;) {
                const auto n = co_await s->io.async_read_some(asio::buffer(s->inbuf), asio::use_awaitable);
                if (self->current != s) co_return;
                s->reader.feed(s->inbuf.data(), n);
                while (auto r = s->reader.next()) {
                    if (self->pending.size() == self->unwritten)
                        throw error(error::kind::protocol, "Redis at " + self->display + " sent a reply nobody asked for");
                    auto& head = *self->pending.front();
                    head.deliver(std::move(*r));
                    if (head.received == head.expected) {
                        self->complete(head, nullptr);
                        self->pending.pop_front();
                    }
                }
            }
        } catch (const std::exception& e) {
            self->drop(s, self->io_error(e));
        }
    }

    // One timer for every call of the session. Replies come in order, so a stalled server shows
    // as a pending call past its deadline; the timer wakes at the earliest deadline (or once per
    // command_timeout while idle) instead of one timer per call.
    static asio::awaitable<void> watchdog_loop(std::shared_ptr<impl> self, std::shared_ptr<session> s) {
        s->watchdog_at = std::min(s->watchdog_at, steady::now() + self->opts.command_timeout);
        for (;;) {
            s->watchdog.expires_at(s->watchdog_at);
            // Cancelled when an earlier deadline arrives (re-armed below) or the session ends.
            (void)co_await s->watchdog.async_wait(asio::as_tuple(asio::use_awaitable));
            if (self->current != s) co_return;
            const auto now = steady::now();
            const auto earliest = self->earliest_deadline();
            if (earliest <= now) {
                self->drop(s, error(error::kind::timeout, "Redis at " + self->display + " did not answer in time"));
                co_return;
            }
            s->watchdog_at = std::min(earliest, now + self->opts.command_timeout);
        }
    }

    // --- the calls' bodies ---------------------------------------------------------------------

    static asio::awaitable<reply> run_one(std::shared_ptr<impl> self, const command& cmd,
                                          std::chrono::milliseconds timeout) {
        auto req = std::make_shared<request>();
        req->expected = 1;
        req->timeout = timeout;
        self->enqueue(req, &cmd, 1);
        co_await self->wait(req);
        co_return std::move(req->one);
    }
};

connection::connection(boost::asio::any_io_executor executor, endpoint where, connection_options options)
    : impl_(std::make_shared<impl>(std::move(executor), std::move(where), std::move(options))) {}

connection::~connection() { impl_->close(); }

boost::asio::awaitable<reply> connection::exec(command cmd) {
    auto self = impl_;  // the call keeps the connection's state alive even if *this goes away
    co_return co_await impl::run_one(self, cmd, self->opts.command_timeout);
}

boost::asio::awaitable<std::vector<reply>> connection::exec_pipeline(std::vector<command> cmds) {
    auto self = impl_;
    if (cmds.empty()) co_return std::vector<reply>{};
    auto req = std::make_shared<request>();
    req->expected = cmds.size();
    req->many = true;
    req->replies.reserve(cmds.size());
    req->timeout = self->opts.command_timeout;
    self->enqueue(req, cmds.data(), cmds.size());
    co_await self->wait(req);
    co_return std::move(req->replies);
}

boost::asio::awaitable<reply> connection::exec_blocking(command cmd, std::chrono::milliseconds blocks_for) {
    auto self = impl_;
    co_return co_await impl::run_one(self, cmd, self->opts.command_timeout + blocks_for);
}

boost::asio::awaitable<reply> connection::eval(const script& s, std::vector<std::string> keys,
                                               std::vector<std::string> args) {
    auto self = impl_;
    command cmd;
    cmd.reserve(3 + keys.size() + args.size());
    cmd.emplace_back("EVALSHA");
    cmd.push_back(s.sha1());
    cmd.push_back(std::to_string(keys.size()));
    for (auto& k : keys) cmd.push_back(std::move(k));
    for (auto& a : args) cmd.push_back(std::move(a));
    reply r = co_await impl::run_one(self, cmd, self->opts.command_timeout);
    if (r.is_error() && r.str().starts_with("NOSCRIPT")) {
        // The script cache is empty (restart, failover, SCRIPT FLUSH): EVAL runs the script and
        // caches it again, in one round trip.
        cmd[0] = "EVAL";
        cmd[1] = s.source();
        r = co_await impl::run_one(self, cmd, self->opts.command_timeout);
    }
    co_return r;
}

void connection::close() { impl_->close(); }

bool connection::is_connected() const noexcept { return impl_->st == impl::state::connected; }

std::uint64_t connection::sessions() const noexcept { return impl_->sessions; }

}  // namespace wharf::redis

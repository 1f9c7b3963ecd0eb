// A pipelined, auto-reconnecting Redis client on Boost.Asio (plain TCP or TLS).
//
// hiredis 0.14 (Debian 12) has no TLS and its async API wants its own event adapter, so hiredis
// is used only for what it is best at -- formatting commands (redisFormatCommandArgv) and parsing
// RESP (redisReader) -- while the socket, TLS, deadlines and reconnects are Asio's.
#pragma once

#include "wharf/core/backoff.hpp"
#include "wharf/redis/endpoint.hpp"
#include "wharf/redis/reply.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace wharf::redis {

using command = std::vector<std::string>;

// Builds a command (or a key/argument list for eval) from strings, string_views and integers:
//     co_await conn.exec(redis::cmd("XADD", keys.stream, "*", "job", text));
// Prefer it to `exec({"PING"})` inside coroutines: GCC 12 rejects a braced list in a co_await
// expression ("array used as initializer", a compiler bug), while a call like this compiles.
template <class... Args>
command cmd(Args&&... args) {
    command c;
    c.reserve(sizeof...(args));
    auto add = [&c]<class A>(A&& a) {
        if constexpr (std::is_integral_v<std::remove_cvref_t<A>> && !std::is_same_v<std::remove_cvref_t<A>, char> &&
                      !std::is_same_v<std::remove_cvref_t<A>, bool>) {
            c.push_back(std::to_string(a));
        } else {
            c.emplace_back(std::forward<A>(a));
        }
    };
    (add(std::forward<Args>(args)), ...);
    (void)add;  // unused when called with no arguments
    return c;
}

// The same for eval's key and argument lists: eval(s, redis::args(k1, k2), redis::args(n)).
template <class... Args>
std::vector<std::string> args(Args&&... a) {
    return cmd(std::forward<Args>(a)...);
}

struct connection_options {
    // Deadline for one command or pipeline once written (a blocking command adds its own
    // BLOCK time to this).
    std::chrono::milliseconds command_timeout{5'000};
    std::chrono::milliseconds connect_timeout{3'000};
    // Name sent with CLIENT SETNAME so operators can tell the fleet apart.
    std::string client_name = "wharf";
    // Delay before a connect attempt that follows a failed one (full jitter; attempts are made
    // only when a call needs the connection, so max_attempts is not used here).
    wharf::backoff_policy reconnect_backoff{std::chrono::milliseconds{100}, std::chrono::milliseconds{2'000}, 0};
    // A server reply (one RESP value) larger than this drops the connection (error protocol).
    std::size_t max_reply_bytes = std::size_t{1} << 30;
};

// One connection. Commands may be issued concurrently from many coroutines; they are written in
// call order and their replies matched in order (pipelining). On an I/O error or a deadline, every
// pending call fails with redis::error (kind io or timeout) and the next call reconnects, with
// the one backoff policy, until the connection is closed. Redis error replies ("-ERR ...") are not
// thrown: they come back as reply::is_error(), since the caller decides what they mean.
//
// Threading: a connection is not thread-safe. Call it, and destroy it, from its executor only (an
// io_context run by one thread, or a strand). Calls are cheap to make concurrently from many
// coroutines on that executor: that is what pipelining is for. A blocking command (BLPOP,
// XREADGROUP ... BLOCK) holds up every call queued behind it, so give it a connection of its own.
//
// Cancellation: a call whose coroutine is cancelled (e.g. it lost an awaitable_operators race)
// ends at once with boost::system::system_error(operation_aborted); a command already queued is
// still sent, and its reply is read and dropped.
//
// Connecting: the first call connects (TCP_NODELAY on; TLS with SNI and verification; AUTH,
// SELECT, CLIENT SETNAME). A failed attempt fails the calls waiting for it, and each later
// attempt waits a reconnect_backoff delay first. A wrong password is error kind auth.
class connection {
public:
    connection(boost::asio::any_io_executor executor, endpoint where, connection_options options = {});
    ~connection();
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    boost::asio::awaitable<reply> exec(command cmd);
    // All commands written at once; replies in the same order.
    boost::asio::awaitable<std::vector<reply>> exec_pipeline(std::vector<command> cmds);
    // A blocking command (XREADGROUP ... BLOCK ms): the deadline is extended by `blocks_for`.
    // Use a finite BLOCK in a loop: BLOCK 0 would run into the deadline and drop the connection.
    boost::asio::awaitable<reply> exec_blocking(command cmd, std::chrono::milliseconds blocks_for);

    // EVALSHA with a transparent SCRIPT LOAD on NOSCRIPT (after a Redis restart or failover).
    boost::asio::awaitable<reply> eval(const class script& s, std::vector<std::string> keys,
                                       std::vector<std::string> args);

    // Fails pending and future calls with error kind closed.
    void close();
    bool is_connected() const noexcept;
    // How many times it has connected: a change means a new session, possibly to a restarted or
    // another (failed-over) server, even where no call failed.
    std::uint64_t sessions() const noexcept;

private:
    struct impl;
    std::shared_ptr<impl> impl_;
};

// A Lua script with its SHA1 computed once.
class script {
public:
    explicit script(std::string source);
    const std::string& source() const noexcept { return source_; }
    const std::string& sha1() const noexcept { return sha1_; }

private:
    std::string source_;
    std::string sha1_;
};

}  // namespace wharf::redis

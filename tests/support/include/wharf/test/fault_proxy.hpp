// A fault-injecting HTTP/1.1 proxy for tests: sits between a client and a real server on
// loopback, forwards requests, and on chosen requests answers 500/503 itself, resets the
// connection in the middle of the request body, stalls, truncates the response body, or flips
// one byte of the request body on its way (a damaged part the server should catch).
// Runs its own io_context on its own thread, so tests drive the client however they like.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>

namespace wharf::test {

struct fault {
    enum class kind {
        none,
        status,             // answer `status` + `body` without forwarding (the request body is read and dropped)
        reset_mid_body,     // forward half the request body, then reset both connections (RST)
        stall,              // hold the request for `stall` before forwarding it (the client's deadline fires)
        truncate_response,  // forward the request, then only half of the response body, then close
        add_header,         // forward as is, with `header` added to the response head (a provider's extra)
        flip_byte,          // forward the request with the body byte at `offset` inverted (bits flipped)
    };
    kind what = kind::none;
    int status = 503;
    std::string body;
    std::chrono::milliseconds stall{0};
    std::pair<std::string, std::string> header;  // add_header
    std::uint64_t offset = 0;                    // flip_byte: 0-based, in the request body

    static fault slow_down();       // 503 with S3's <Error><Code>SlowDown</Code> body
    static fault internal_error();  // 500 with S3's <Error><Code>InternalError</Code> body
    static fault reset();
    static fault stall_for(std::chrono::milliseconds duration);
    static fault truncate();
    static fault add_response_header(std::string name, std::string value);
    static fault flip_byte(std::uint64_t offset);
};

struct request_info {
    std::uint64_t number = 0;  // 1-based, across all connections, in the order heads arrive
    std::string method;
    std::string target;        // path and query as sent
    std::uint64_t content_length = 0;
    std::string head;          // the request line and headers as received, up to the blank line
};

// Decides the fault for each request (called on the proxy's thread).
using fault_rule = std::function<fault(const request_info&)>;

class fault_proxy {
public:
    explicit fault_proxy(std::uint16_t upstream_port);
    ~fault_proxy();
    fault_proxy(const fault_proxy&) = delete;
    fault_proxy& operator=(const fault_proxy&) = delete;

    std::uint16_t port() const noexcept { return port_; }

    void set_rule(fault_rule rule);
    void clear() { set_rule({}); }
    // Fault the requests with these numbers (see request_info::number) among those matching `only`.
    void fail_requests(std::set<std::uint64_t> numbers, fault f, std::function<bool(const request_info&)> only = {});
    // Fault each request matching `only` with probability p (seeded: runs are reproducible).
    void fail_randomly(double p, fault f, std::uint64_t seed, std::function<bool(const request_info&)> only = {});

    std::uint64_t requests() const noexcept;
    std::uint64_t faults_injected() const noexcept;

    struct impl;

private:
    std::shared_ptr<impl> impl_;
    std::uint16_t port_ = 0;
};

}  // namespace wharf::test

// A Redis reply as a value type, plus the error type of the Redis client.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace wharf::redis {

namespace detail {
struct reply_builder;  // the RESP reader builds replies in place (resp.cpp)
}

class reply {
public:
    enum class type { nil, integer, string, status, error, array };

    reply() = default;
    static reply make_nil() { return reply{}; }
    static reply make_integer(std::int64_t v);
    static reply make_string(std::string s);
    static reply make_status(std::string s);
    static reply make_error(std::string s);
    static reply make_array(std::vector<reply> elements);

    type kind() const noexcept { return type_; }
    bool is_nil() const noexcept { return type_ == type::nil; }
    bool is_error() const noexcept { return type_ == type::error; }
    bool is_array() const noexcept { return type_ == type::array; }
    bool is_string() const noexcept { return type_ == type::string || type_ == type::status; }
    bool is_integer() const noexcept { return type_ == type::integer; }

    std::int64_t integer() const;          // throws redis::error(protocol) on type mismatch
    const std::string& str() const;        // string, status or error text
    const std::vector<reply>& elements() const;  // array; empty for nil
    const reply& operator[](std::size_t i) const;
    std::size_t size() const noexcept { return elements_.size(); }

    // For logs and test failures: RESP-ish rendering.
    std::string debug_string() const;

private:
    friend struct detail::reply_builder;

    type type_ = type::nil;
    std::int64_t integer_ = 0;
    std::string string_;
    std::vector<reply> elements_;
};

// Thrown by the client for infrastructure failures (never for "-ERR" replies).
class error : public std::runtime_error {
public:
    enum class kind { io, timeout, protocol, auth, closed };
    error(kind k, const std::string& what) : std::runtime_error(what), kind_(k) {}
    kind which() const noexcept { return kind_; }
    // io and timeout are worth retrying after a reconnect; protocol and auth are not.
    bool retryable() const noexcept { return kind_ == kind::io || kind_ == kind::timeout; }

private:
    kind kind_;
};

}  // namespace wharf::redis

// reply: constructors, checked accessors and the debug rendering.
#include "wharf/redis/reply.hpp"

#include <utility>

namespace wharf::redis {
namespace {

const char* type_name(reply::type t) {
    switch (t) {
    case reply::type::nil: return "nil";
    case reply::type::integer: return "integer";
    case reply::type::string: return "string";
    case reply::type::status: return "status";
    case reply::type::error: return "error";
    case reply::type::array: return "array";
    }
    return "?";
}

[[noreturn]] void mismatch(reply::type want, const reply& got) {
    throw error(error::kind::protocol, std::string("Redis reply is ") + type_name(got.kind()) + ", expected " +
                                           type_name(want) + ": " + got.debug_string());
}

void append_bounded(std::string& out, const std::string& s, std::size_t budget) {
    const std::size_t room = budget > out.size() ? budget - out.size() + 1 : 1;
    out.append(s, 0, room);
}

void render(const reply& r, std::string& out, std::size_t budget) {
    if (out.size() > budget) return;
    switch (r.kind()) {
    case reply::type::nil: out += "(nil)"; break;
    case reply::type::integer: out += "(integer) " + std::to_string(r.integer()); break;
    case reply::type::string: out += '"'; append_bounded(out, r.str(), budget); out += '"'; break;
    case reply::type::status: append_bounded(out, r.str(), budget); break;
    case reply::type::error: out += "(error) "; append_bounded(out, r.str(), budget); break;
    case reply::type::array:
        out += '[';
        for (std::size_t i = 0; i < r.size(); ++i) {
            if (i) out += ", ";
            if (out.size() > budget) { out += "..."; break; }
            render(r[i], out, budget);
        }
        out += ']';
        break;
    }
}

}  // namespace

reply reply::make_integer(std::int64_t v) {
    reply r;
    r.type_ = type::integer;
    r.integer_ = v;
    return r;
}

reply reply::make_string(std::string s) {
    reply r;
    r.type_ = type::string;
    r.string_ = std::move(s);
    return r;
}

reply reply::make_status(std::string s) {
    reply r;
    r.type_ = type::status;
    r.string_ = std::move(s);
    return r;
}

reply reply::make_error(std::string s) {
    reply r;
    r.type_ = type::error;
    r.string_ = std::move(s);
    return r;
}

reply reply::make_array(std::vector<reply> elements) {
    reply r;
    r.type_ = type::array;
    r.elements_ = std::move(elements);
    return r;
}

std::int64_t reply::integer() const {
    if (type_ != type::integer) mismatch(type::integer, *this);
    return integer_;
}

const std::string& reply::str() const {
    if (type_ != type::string && type_ != type::status && type_ != type::error) mismatch(type::string, *this);
    return string_;
}

const std::vector<reply>& reply::elements() const {
    if (type_ != type::array && type_ != type::nil) mismatch(type::array, *this);
    return elements_;
}

const reply& reply::operator[](std::size_t i) const {
    if (type_ != type::array) mismatch(type::array, *this);
    if (i >= elements_.size())
        throw error(error::kind::protocol, "Redis reply has " + std::to_string(elements_.size()) +
                                               " elements, index " + std::to_string(i) + " requested");
    return elements_[i];
}

std::string reply::debug_string() const {
    // Bounded: a reply may be a 500 MB bulk string, and this ends up in logs.
    constexpr std::size_t budget = 4096;
    std::string out;
    render(*this, out, budget);
    if (out.size() > budget) {
        out.resize(budget);
        out += "...";
    }
    return out;
}

}  // namespace wharf::redis

// RESP2 formatting and parsing (hiredis's redisReader with our own object functions).
#include "wharf/redis/detail/resp.hpp"

#include <hiredis/read.h>

#include <algorithm>
#include <charconv>
#include <memory>
#include <new>

namespace wharf::redis::detail {

// hiredis builds a reply tree by calling these as it parses. A child is constructed in place at
// the end of its parent's element vector, so only the root is heap-allocated, and hiredis frees
// only the root (freeObject is called on r->reply alone, on error or reader destruction).
// hiredis fills an array's elements in order and keeps pointers only to the arrays still open
// (the current element's ancestors): appending to one vector moves finished siblings, never an
// open ancestor, whose vectors are not being appended to at that moment.
//
// The vector is not sized from the header: "*2147483647\r\n" is 14 bytes, and resizing to it
// asked for 150 GB, a std::bad_alloc thrown through hiredis's C frames (std::terminate). Found by
// tests/fuzz/resp_fuzz. The reservation is capped; elements grow as their bytes arrive.
struct reply_builder {
    // Enough for a whole XREADGROUP batch (256 entries) without regrowth.
    static constexpr std::size_t max_reserved_elements = 1024;

    static reply* slot(const redisReadTask* task) {
        if (task->parent == nullptr) return new (std::nothrow) reply;
        auto* parent = static_cast<reply*>(task->parent->obj);
        // hiredis hands elements out in order: idx is always the next one.
        if (static_cast<std::size_t>(task->idx) != parent->elements_.size()) return nullptr;
        return &parent->elements_.emplace_back();
    }

    static void* create_string(const redisReadTask* task, char* str, size_t len) {
        reply* r = slot(task);
        if (r == nullptr) return nullptr;
        switch (task->type) {
        case REDIS_REPLY_ERROR: r->type_ = reply::type::error; break;
        case REDIS_REPLY_STATUS: r->type_ = reply::type::status; break;
        default: r->type_ = reply::type::string; break;
        }
        r->string_.assign(str, len);
        return r;
    }

    static void* create_array(const redisReadTask* task, int elements) {
        reply* r = slot(task);
        if (r == nullptr) return nullptr;
        r->type_ = reply::type::array;
        r->elements_.reserve(elements > 0 ? std::min(static_cast<std::size_t>(elements), max_reserved_elements) : 0);
        return r;
    }

    static void* create_integer(const redisReadTask* task, long long value) {
        reply* r = slot(task);
        if (r == nullptr) return nullptr;
        r->type_ = reply::type::integer;
        r->integer_ = value;
        return r;
    }

    static void* create_nil(const redisReadTask* task) {
        reply* r = slot(task);
        if (r == nullptr) return nullptr;
        r->type_ = reply::type::nil;
        return r;
    }

    static void free_object(void* obj) { delete static_cast<reply*>(obj); }
};

namespace {

redisReplyObjectFunctions builder_functions = {
    reply_builder::create_string, reply_builder::create_array, reply_builder::create_integer,
    reply_builder::create_nil,    reply_builder::free_object,
};

void append_decimal(std::string& out, std::size_t n) {
    char digits[24];
    auto [end, ec] = std::to_chars(digits, digits + sizeof digits, n);
    (void)ec;  // 24 characters always hold a size_t
    out.append(digits, end);
}

}  // namespace

void append_command(std::string& out, const std::vector<std::string>& args) {
    std::size_t need = 16;
    for (const auto& a : args) need += a.size() + 16;
    out.reserve(out.size() + need);
    out += '*';
    append_decimal(out, args.size());
    out += "\r\n";
    for (const auto& a : args) {
        out += '$';
        append_decimal(out, a.size());
        out += "\r\n";
        out += a;
        out += "\r\n";
    }
}

resp_reader::resp_reader(std::size_t max_buffered)
    : reader_(redisReaderCreateWithFunctions(&builder_functions)), max_buffered_(max_buffered) {
    if (reader_ == nullptr) throw std::bad_alloc();
}

resp_reader::~resp_reader() {
    redisReaderFree(reader_);
}

void resp_reader::feed(const char* data, std::size_t size) {
    if (buffered() + size > max_buffered_)
        throw error(error::kind::protocol, "Redis reply larger than " + std::to_string(max_buffered_) + " bytes");
    if (redisReaderFeed(reader_, data, size) != REDIS_OK)
        throw error(error::kind::protocol, std::string("Redis protocol error: ") + reader_->errstr);
}

std::optional<reply> resp_reader::next() {
    void* obj = nullptr;
    if (redisReaderGetReply(reader_, &obj) != REDIS_OK)
        throw error(error::kind::protocol, std::string("Redis protocol error: ") + reader_->errstr);
    if (obj == nullptr) return std::nullopt;
    std::unique_ptr<reply> root(static_cast<reply*>(obj));
    return std::move(*root);
}

std::size_t resp_reader::buffered() const noexcept {
    return reader_->len - reader_->pos;
}

}  // namespace wharf::redis::detail

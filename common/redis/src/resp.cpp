// RESP2 formatting and parsing (hiredis's redisReader with our own object functions).
#include "wharf/redis/detail/resp.hpp"

#include <hiredis/read.h>

#include <charconv>
#include <memory>
#include <new>

namespace wharf::redis::detail {

// hiredis builds a reply tree by calling these as it parses. A child is constructed in place in
// its parent's pre-sized element vector (stable addresses: the vector is never resized after
// createArray), so only the root is heap-allocated, and hiredis frees only the root
// (freeObject is called on r->reply alone, on error or reader destruction).
struct reply_builder {
    static reply* slot(const redisReadTask* task) {
        if (task->parent == nullptr) return new (std::nothrow) reply;
        auto* parent = static_cast<reply*>(task->parent->obj);
        return &parent->elements_[static_cast<std::size_t>(task->idx)];
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
        r->elements_.resize(elements > 0 ? static_cast<std::size_t>(elements) : 0);
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

resp_reader::~resp_reader() { redisReaderFree(reader_); }

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

std::size_t resp_reader::buffered() const noexcept { return reader_->len - reader_->pos; }

}  // namespace wharf::redis::detail

// The job envelope decoder and encoder: every bad input becomes a decode_error naming the field.
#include "wharf/queue/envelope.hpp"

#include "wharf/core/json.hpp"

#include <array>

namespace wharf::queue {
namespace {

using json = nlohmann::json;

// A producer's envelope is small; a multi-megabyte one is a bug upstream, not a job. Depth: the
// envelope is level 1, its payload level 2, so a payload may nest 62 levels of its own.
constexpr json_limits envelope_limits{.max_bytes = max_envelope_bytes, .max_depth = max_envelope_depth};

// A producer's text quoted in a reason: bounded, so a dead letter never carries megabytes.
std::string shown_text(std::string_view s) {
    constexpr std::size_t shown = 64;
    if (s.size() <= shown) return "\"" + std::string{s} + "\"";
    return "\"" + std::string{s.substr(0, shown)} + "...\" (" + std::to_string(s.size()) + " bytes)";
}

constexpr std::array<std::string_view, 12> known_fields = {"v",       "type",      "payload", "id",
                                                           "api_key", "max_attempts", "timeout_s", "run_at",
                                                           "parent_id", "attempt", "_token", "_gen"};

bool is_known(std::string_view key) {
    for (auto k : known_fields)
        if (k == key) return true;
    return false;
}

bool valid_id(std::string_view id) {
    if (id.empty() || id.size() > 128) return false;
    for (char c : id) {
        const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
                        c == '_' || c == ':' || c == '-';
        if (!ok) return false;
    }
    return true;
}

// JSON numbers a producer may send for an integer field: 3 or 3.0, never 3.5 or "3".
std::optional<std::int64_t> as_integer(const json& v) {
    if (v.is_number_integer()) {
        if (v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX))
            return std::nullopt;
        return v.get<std::int64_t>();
    }
    if (v.is_number_float()) {
        const double d = v.get<double>();
        if (d >= -9.0e15 && d <= 9.0e15 && static_cast<double>(static_cast<std::int64_t>(d)) == d)
            return static_cast<std::int64_t>(d);
    }
    return std::nullopt;
}

std::string range_reason(std::string_view field, std::int64_t lo, std::int64_t hi) {
    return std::string{field} + ": must be an integer from " + std::to_string(lo) + " to " + std::to_string(hi);
}

// Optional fields may also be sent as null (Python's None, JavaScript's null): that means absent.
const json* field(const json& obj, std::string_view key) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return nullptr;
    return &*it;
}

}  // namespace

std::variant<envelope, decode_error> decode(std::string_view text, std::string_view queue) {
    if (text.size() > max_envelope_bytes)
        return decode_error{"envelope: larger than " + std::to_string(max_envelope_bytes) + " bytes"};
    auto parsed = parse_json(text, envelope_limits);
    if (!parsed)
        return decode_error{(parsed.why == parsed_json::failure::syntax ? "not JSON: " : "envelope: ") + parsed.error};
    json& doc = parsed.value;
    if (!doc.is_object()) return decode_error{"envelope: must be a JSON object"};

    envelope e;
    e.type = std::string{queue};

    if (const json* v = field(doc, "v")) {
        const auto n = as_integer(*v);
        if (!n || *n < 1) return decode_error{"v: must be a positive integer"};
        if (*n > envelope_version)
            return decode_error{"v: envelope version " + std::to_string(*n) + " is newer than this worker supports (" +
                                std::to_string(envelope_version) + ")"};
        e.version = static_cast<int>(*n);
    }
    if (const json* t = field(doc, "type")) {
        if (!t->is_string()) return decode_error{"type: must be a string"};
        if (t->get_ref<const std::string&>() != queue)
            return decode_error{"type: " + shown_text(t->get_ref<const std::string&>()) + " does not match the queue \"" +
                                std::string{queue} + "\""};
    }
    {
        auto it = doc.find("payload");
        if (it == doc.end()) return decode_error{"payload: required"};
        if (!it->is_object()) return decode_error{"payload: must be a JSON object"};
        e.payload_json = dump_json(*it);
    }
    if (const json* id = field(doc, "id")) {
        if (!id->is_string() || !valid_id(id->get_ref<const std::string&>()))
            return decode_error{"id: 1-128 characters of [A-Za-z0-9._:-]"};
        e.id = id->get<std::string>();
    }
    if (const json* k = field(doc, "api_key")) {
        if (!k->is_string()) return decode_error{"api_key: must be a string"};
        e.api_key = k->get<std::string>();
    }
    if (const json* m = field(doc, "max_attempts")) {
        const auto n = as_integer(*m);
        if (!n || *n < 1 || *n > 100) return decode_error{range_reason("max_attempts", 1, 100)};
        e.max_attempts = static_cast<std::int32_t>(*n);
    }
    if (const json* t = field(doc, "timeout_s")) {
        const auto n = as_integer(*t);
        if (!n || *n < 1 || *n > 604800) return decode_error{range_reason("timeout_s", 1, 604800)};
        e.timeout_s = static_cast<std::int32_t>(*n);
    }
    if (const json* r = field(doc, "run_at")) {
        if (!r->is_string()) return decode_error{"run_at: must be an RFC 3339 timestamp string"};
        auto when = parse_rfc3339(r->get_ref<const std::string&>());
        if (!when)
            return decode_error{"run_at: " + shown_text(r->get_ref<const std::string&>()) +
                                " is not an RFC 3339 timestamp (e.g. 2030-01-02T03:04:05Z)"};
        e.run_at = *when;
    }
    if (const json* p = field(doc, "parent_id")) {
        if (!p->is_string() || !valid_id(p->get_ref<const std::string&>()))
            return decode_error{"parent_id: 1-128 characters of [A-Za-z0-9._:-]"};
        e.parent_id = p->get<std::string>();
    }
    if (const json* a = field(doc, "attempt")) {
        const auto n = as_integer(*a);
        if (!n || *n < 1 || *n > 1000000) return decode_error{range_reason("attempt", 1, 1000000)};
        e.attempt = static_cast<std::int32_t>(*n);
    }
    if (const json* t = field(doc, "_token")) {
        if (!t->is_string() || t->get_ref<const std::string&>().empty() ||
            t->get_ref<const std::string&>().size() > 128)
            return decode_error{"_token: must be a string of 1-128 characters"};
        e.token = t->get<std::string>();
    }
    if (const json* g = field(doc, "_gen")) {
        const auto n = as_integer(*g);
        if (!n || *n < 0 || *n > 1000000) return decode_error{range_reason("_gen", 0, 1000000)};
        e.generation = static_cast<std::int32_t>(*n);
    }

    json extra = json::object();
    for (auto it = doc.begin(); it != doc.end(); ++it)
        if (!is_known(it.key())) extra[it.key()] = std::move(it.value());
    if (!extra.empty()) e.extra_json = dump_json(extra);
    return e;
}

std::string encode(const envelope& e) {
    // Unknown fields first, so a known field of the same name (which cannot happen through
    // decode) would win.
    json out = json::object();
    if (!e.extra_json.empty() && e.extra_json != "{}") {
        json extra = json::parse(e.extra_json, nullptr, false);
        if (extra.is_object()) out = std::move(extra);
    }
    out["v"] = e.version;
    if (!e.type.empty()) out["type"] = e.type;
    json payload = json::parse(e.payload_json, nullptr, false);
    out["payload"] = payload.is_object() ? std::move(payload) : json::object();
    if (e.id) out["id"] = *e.id;
    if (e.api_key) out["api_key"] = *e.api_key;
    if (e.max_attempts) out["max_attempts"] = *e.max_attempts;
    if (e.timeout_s) out["timeout_s"] = *e.timeout_s;
    if (e.run_at) out["run_at"] = format_rfc3339(*e.run_at);
    if (e.parent_id) out["parent_id"] = *e.parent_id;
    if (e.attempt != 1) out["attempt"] = e.attempt;
    if (e.token) out["_token"] = *e.token;
    if (e.generation != 0) out["_gen"] = e.generation;
    // Invalid UTF-8 in a string cannot come from decode (the parser rejects it); replace rather
    // than throw for hand-built envelopes.
    return dump_json(out);
}

}  // namespace wharf::queue

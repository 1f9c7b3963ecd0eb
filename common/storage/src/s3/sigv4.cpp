// SigV4 canonicalisation and signing (see sigv4.hpp); OpenSSL supplies the primitives.
#include "wharf/storage/s3/sigv4.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <ctime>
#include <stdexcept>

namespace wharf::storage::sigv4 {

namespace {

bool unreserved(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_' || c == '~';
}

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

// Trim, and collapse every run of whitespace inside into one space.
std::string normalize_value(std::string_view v) {
    std::string out;
    out.reserve(v.size());
    bool pending_space = false;
    for (char c : v) {
        if (is_space(c)) {
            pending_space = !out.empty();
            continue;
        }
        if (pending_space) out.push_back(' ');
        pending_space = false;
        out.push_back(c);
    }
    return out;
}

std::array<unsigned char, 32> hmac(std::span<const unsigned char> key, std::string_view data) {
    std::array<unsigned char, 32> out{};
    unsigned int len = 0;
    if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
              data.size(), out.data(), &len) ||
        len != out.size())
        throw std::runtime_error("HMAC-SHA256 failed");
    return out;
}

std::tm utc(std::chrono::system_clock::time_point t) {
    const std::time_t tt = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    return tm;
}

bool has_header(const param_list& headers, std::string_view lower_name) {
    return std::any_of(headers.begin(), headers.end(), [&](const auto& h) { return lower(h.first) == lower_name; });
}

}  // namespace

std::string uri_encode(std::string_view text, bool keep_slash) {
    static constexpr char digits[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(text.size() + text.size() / 4);
    for (char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        if (unreserved(c) || (keep_slash && c == '/')) {
            out.push_back(ch);
        } else {
            out.push_back('%');
            out.push_back(digits[c >> 4]);
            out.push_back(digits[c & 0xF]);
        }
    }
    return out;
}

std::string hex(std::span<const unsigned char> bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out(bytes.size() * 2, '\0');
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 0xF];
    }
    return out;
}

std::string base64(std::span<const unsigned char> bytes) {
    std::string out(4 * ((bytes.size() + 2) / 3), '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes.data(), static_cast<int>(bytes.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

std::string sha256_hex(std::span<const char> bytes) {
    std::array<unsigned char, 32> digest{};
    unsigned int len = 0;
    if (!EVP_Digest(bytes.data(), bytes.size(), digest.data(), &len, EVP_sha256(), nullptr)) throw std::runtime_error("SHA-256 failed");
    return hex(digest);
}

std::string amz_date(std::chrono::system_clock::time_point t) {
    const std::tm tm = utc(t);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
    return buf;
}

std::string amz_day(std::chrono::system_clock::time_point t) { return amz_date(t).substr(0, 8); }

std::string canonical_query(const param_list& query) {
    std::vector<std::pair<std::string, std::string>> encoded;
    encoded.reserve(query.size());
    for (const auto& [k, v] : query) encoded.emplace_back(uri_encode(k, false), uri_encode(v, false));
    std::sort(encoded.begin(), encoded.end());
    std::string out;
    for (const auto& [k, v] : encoded) {
        if (!out.empty()) out.push_back('&');
        out += k;
        out.push_back('=');
        out += v;
    }
    return out;
}

std::pair<std::string, std::string> canonical_headers(const param_list& headers) {
    // Stable sort keeps the given order of repeated names, which is the order their values join in.
    std::vector<std::pair<std::string, std::string>> norm;
    norm.reserve(headers.size());
    for (const auto& [k, v] : headers) norm.emplace_back(lower(normalize_value(k)), normalize_value(v));
    std::stable_sort(norm.begin(), norm.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    std::string block, names;
    for (std::size_t i = 0; i < norm.size();) {
        std::string line = norm[i].first + ":" + norm[i].second;
        std::size_t j = i + 1;
        for (; j < norm.size() && norm[j].first == norm[i].first; ++j) line += "," + norm[j].second;
        block += line;
        block.push_back('\n');
        if (!names.empty()) names.push_back(';');
        names += norm[i].first;
        i = j;
    }
    return {std::move(block), std::move(names)};
}

std::string canonical_request(const request_to_sign& r) {
    auto [block, names] = canonical_headers(r.headers);
    std::string out;
    out.reserve(256 + block.size() + r.canonical_uri.size());
    out += r.method;
    out += '\n';
    out += r.canonical_uri.empty() ? "/" : r.canonical_uri;
    out += '\n';
    out += canonical_query(r.query);
    out += '\n';
    out += block;
    out += '\n';
    out += names;
    out += '\n';
    out += r.payload_hash;
    return out;
}

std::string credential_scope(std::string_view day, const scope& s) {
    return std::string(day) + "/" + s.region + "/" + s.service + "/aws4_request";
}

std::string string_to_sign(std::string_view amz_date_text, std::string_view scope_text, std::string_view canonical) {
    std::string out = "AWS4-HMAC-SHA256\n";
    out += amz_date_text;
    out += '\n';
    out += scope_text;
    out += '\n';
    out += sha256_hex(canonical);
    return out;
}

std::array<unsigned char, 32> signing_key(std::string_view secret, std::string_view day, const scope& s) {
    const std::string k = "AWS4" + std::string(secret);
    auto k_date = hmac(std::span(reinterpret_cast<const unsigned char*>(k.data()), k.size()), day);
    auto k_region = hmac(k_date, s.region);
    auto k_service = hmac(k_region, s.service);
    return hmac(k_service, "aws4_request");
}

std::string hmac_hex(std::span<const unsigned char> key, std::string_view data) { return hex(hmac(key, data)); }

static signature_parts sign_with_key(const request_to_sign& r, std::span<const unsigned char> key, const scope& s,
                                     std::string_view amz_date_text) {
    signature_parts p;
    p.canonical_request = canonical_request(r);
    p.signed_headers = canonical_headers(r.headers).second;
    p.string_to_sign = string_to_sign(amz_date_text, credential_scope(amz_date_text.substr(0, 8), s), p.canonical_request);
    p.signature = hmac_hex(key, p.string_to_sign);
    return p;
}

signature_parts sign(const request_to_sign& r, const credentials& c, const scope& s, std::string_view amz_date_text) {
    if (amz_date_text.size() != 16) throw std::invalid_argument("sigv4: amz date must look like 20130524T000000Z");
    const auto key = signing_key(c.secret_key, amz_date_text.substr(0, 8), s);
    return sign_with_key(r, key, s, amz_date_text);
}

std::string authorization(const credentials& c, const scope& s, std::string_view day, const signature_parts& p) {
    return "AWS4-HMAC-SHA256 Credential=" + c.access_key + "/" + credential_scope(day, s) +
           ", SignedHeaders=" + p.signed_headers + ", Signature=" + p.signature;
}

std::chrono::seconds clamp_expiry(std::chrono::seconds s) noexcept {
    return std::clamp(s, std::chrono::seconds(1), std::chrono::seconds(604800));
}

std::array<unsigned char, 32> signer::key_for(std::string_view day) const {
    std::lock_guard lock(mutex_);
    if (cached_day_ != day) {
        cached_key_ = signing_key(credentials_.secret_key, day, scope_);
        cached_day_ = std::string(day);
    }
    return cached_key_;
}

signature_parts signer::sign_headers(request_to_sign r, std::chrono::system_clock::time_point now,
                                     param_list& out_headers) const {
    const std::string date = amz_date(now);
    auto add = [&](std::string name, std::string value) {
        if (has_header(r.headers, name)) return;
        r.headers.emplace_back(name, value);
        out_headers.emplace_back(std::move(name), std::move(value));
    };
    add("x-amz-date", date);
    add("x-amz-content-sha256", r.payload_hash);
    if (!credentials_.session_token.empty()) add("x-amz-security-token", credentials_.session_token);
    const auto key = key_for(date.substr(0, 8));
    auto parts = sign_with_key(r, key, scope_, date);
    out_headers.emplace_back("Authorization", authorization(credentials_, scope_, date.substr(0, 8), parts));
    return parts;
}

std::string signer::presign_query(request_to_sign r, std::chrono::system_clock::time_point now, std::chrono::seconds expires,
                                  signature_parts* parts_out) const {
    const std::string date = amz_date(now);
    const std::string day = date.substr(0, 8);
    r.payload_hash = std::string(unsigned_payload);
    const std::string signed_names = canonical_headers(r.headers).second;
    r.query.emplace_back("X-Amz-Algorithm", "AWS4-HMAC-SHA256");
    r.query.emplace_back("X-Amz-Credential", credentials_.access_key + "/" + credential_scope(day, scope_));
    r.query.emplace_back("X-Amz-Date", date);
    r.query.emplace_back("X-Amz-Expires", std::to_string(clamp_expiry(expires).count()));
    if (!credentials_.session_token.empty()) r.query.emplace_back("X-Amz-Security-Token", credentials_.session_token);
    r.query.emplace_back("X-Amz-SignedHeaders", signed_names);
    const auto key = key_for(day);
    auto parts = sign_with_key(r, key, scope_, date);
    std::string q = canonical_query(r.query);
    q += "&X-Amz-Signature=" + parts.signature;
    if (parts_out) *parts_out = std::move(parts);
    return q;
}

}  // namespace wharf::storage::sigv4

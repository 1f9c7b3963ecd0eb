// SigV4 canonicalisation and signing with fuzzed method, path, query and headers: the canonical
// request, the string to sign, header signing and presigning never fail on any bytes, and the
// canonical query is made of unreserved characters, '%XX', '=' and '&' only.
#include "fuzz_support.hpp"

#include "wharf/storage/s3/sigv4.hpp"

#include <fuzzer/FuzzedDataProvider.h>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    namespace v4 = wharf::storage::sigv4;
    FuzzedDataProvider in(data, size);
    v4::request_to_sign r;
    r.method = in.ConsumeRandomLengthString(16);
    r.canonical_uri = in.ConsumeRandomLengthString(256);
    const auto pairs = [&](v4::param_list& out) {
        const int n = in.ConsumeIntegralInRange(0, 8);
        for (int i = 0; i < n; ++i) {
            auto name = in.ConsumeRandomLengthString(32);
            out.emplace_back(std::move(name), in.ConsumeRandomLengthString(64));
        }
    };
    pairs(r.query);
    pairs(r.headers);
    r.headers.emplace_back("Host", "bucket.s3.us-east-1.amazonaws.com");
    const v4::credentials creds{"AKIDEXAMPLE", in.ConsumeRandomLengthString(64), in.ConsumeRandomLengthString(32)};
    const v4::scope where{in.ConsumeRandomLengthString(24), "s3"};
    const auto now = std::chrono::system_clock::time_point{} +
                     std::chrono::seconds(in.ConsumeIntegralInRange<std::int64_t>(0, 4102444800));  // to 2100: system_clock counts ns in 64 bits
    r.payload_hash = in.ConsumeRemainingBytesAsString();

    const std::string query = v4::canonical_query(r.query);
    const auto upper_hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); };
    for (std::size_t i = 0; i < query.size(); ++i) {
        const char c = query[i];
        if (c == '%') {
            WHARF_FUZZ_CHECK(i + 2 < query.size() && upper_hex(query[i + 1]) && upper_hex(query[i + 2]));
            i += 2;
            continue;
        }
        const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                                c == '-' || c == '.' || c == '_' || c == '~';
        WHARF_FUZZ_CHECK(unreserved || c == '=' || c == '&');
    }
    (void)v4::canonical_headers(r.headers);
    (void)v4::canonical_request(r);
    (void)v4::uri_encode(r.canonical_uri, true);

    const std::string date = v4::amz_date(now);
    WHARF_FUZZ_CHECK(date.size() == 16);
    auto signed_request = r;
    signed_request.headers.emplace_back("x-amz-date", date);
    const auto parts = v4::sign(signed_request, creds, where, date);
    WHARF_FUZZ_CHECK(parts.signature.size() == 64);
    (void)v4::authorization(creds, where, v4::amz_day(now), parts);

    const v4::signer signer(creds, where);
    v4::param_list out;
    (void)signer.sign_headers(r, now, out);
    (void)signer.presign_query(r, now, std::chrono::seconds(in.ConsumeIntegral<std::int32_t>()));
    return 0;
}

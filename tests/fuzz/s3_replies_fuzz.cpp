// The S3 reply parsers, on one body read as every reply they handle, plus the header parsers.
// Malformed replies end in storage::error (which the provider turns into a retry or a failure).
#include "fuzz_support.hpp"

#include "wharf/storage/s3/replies.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    namespace s3 = wharf::storage::s3;
    const auto body = wharf::fuzz::text(data, size);
    const auto run = [](auto&& f) {
        try {
            f();
        } catch (const wharf::storage::error&) {
        }
    };
    run([&] { (void)s3::parse_error(body); });
    run([&] { (void)s3::parse_upload_id(body); });
    run([&] {
        const auto r = s3::parse_complete(body);
        WHARF_FUZZ_CHECK(!(r.etag && r.error));
    });
    run([&] { (void)s3::parse_copy(body); });
    run([&] { (void)s3::parse_list_objects(body); });
    run([&] { (void)s3::parse_list_uploads(body); });
    run([&] { (void)s3::parse_delete_errors(body); });
    run([&] {
        const unsigned status = size > 0 ? 200u + data[0] * 2u : 500u;
        const auto e = s3::reply_error("PutObject", "k", status, body);
        (void)s3::classify(status, e.what());
    });
    (void)s3::unquote(body);
    (void)s3::parse_iso8601(body);
    (void)s3::parse_http_date(body);
    (void)s3::goog_hash(body, "crc32c");
    (void)s3::goog_hash(body, "md5");
    return 0;
}

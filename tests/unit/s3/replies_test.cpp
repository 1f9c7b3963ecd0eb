// Reply parsing and the retry classifier, with canned S3 replies.
#include "wharf/storage/s3/replies.hpp"

#include <gtest/gtest.h>

using namespace wharf::storage;
using namespace wharf::storage::s3;

namespace {
std::string error_doc(std::string code, std::string message = "m") {
    return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>" + code + "</Code><Message>" + message +
           "</Message><RequestId>4442587FB7D0A2F9</RequestId></Error>";
}
}  // namespace

TEST(s3_classify, server_errors_and_throttling_are_transient) {
    EXPECT_EQ(classify(500, "InternalError"), errc::transient);
    EXPECT_EQ(classify(503, "SlowDown"), errc::transient);
    EXPECT_EQ(classify(400, "RequestTimeout"), errc::transient);
    EXPECT_EQ(classify(502, ""), errc::transient);
    EXPECT_EQ(classify(429, ""), errc::transient);
    EXPECT_EQ(classify(408, ""), errc::transient);
}

TEST(s3_classify, credentials_not_found_and_other_client_errors) {
    EXPECT_EQ(classify(403, "SignatureDoesNotMatch"), errc::access_denied);
    EXPECT_EQ(classify(403, "InvalidAccessKeyId"), errc::access_denied);
    EXPECT_EQ(classify(403, ""), errc::access_denied);  // HEAD: no body
    EXPECT_EQ(classify(404, "NoSuchKey"), errc::not_found);
    EXPECT_EQ(classify(404, ""), errc::not_found);
    EXPECT_EQ(classify(404, "NoSuchUpload"), errc::not_found);
    EXPECT_EQ(classify(400, "EntityTooSmall"), errc::permanent);
    EXPECT_EQ(classify(400, "InvalidPart"), errc::permanent);
    EXPECT_EQ(classify(301, "PermanentRedirect"), errc::permanent);
    EXPECT_EQ(classify(400, "BadDigest"), errc::integrity);
    EXPECT_EQ(classify(400, "XAmzContentSHA256Mismatch"), errc::integrity);
}

TEST(s3_classify, transport_errors) {
    EXPECT_EQ(classify(wharf::http::error_kind::reset), errc::transient);
    EXPECT_EQ(classify(wharf::http::error_kind::timeout), errc::transient);
    EXPECT_EQ(classify(wharf::http::error_kind::truncated), errc::transient);
    EXPECT_EQ(classify(wharf::http::error_kind::refused), errc::transient);
    EXPECT_EQ(classify(wharf::http::error_kind::tls), errc::permanent);
    EXPECT_EQ(classify(wharf::http::error_kind::body_too_large), errc::permanent);
}

TEST(s3_replies, complete_with_200_and_an_error_body_is_classified_by_its_code) {
    auto r = parse_complete(error_doc("InternalError", "We encountered an internal error. Please try again."));
    ASSERT_TRUE(r.error);
    EXPECT_FALSE(r.etag);
    EXPECT_EQ(r.error->code, "InternalError");
    EXPECT_EQ(classify(200, r.error->code), errc::transient);
    EXPECT_EQ(classify(200, parse_complete(error_doc("InvalidPart")).error->code), errc::permanent);
}

TEST(s3_replies, complete_success_gives_the_unquoted_etag) {
    const std::string body = R"(<?xml version="1.0" encoding="UTF-8"?>
<CompleteMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
<Location>http://127.0.0.1/b/k</Location><Bucket>b</Bucket><Key>k</Key>
<ETag>&quot;3858f62230ac3c915f300c664312c11f-9&quot;</ETag></CompleteMultipartUploadResult>)";
    auto r = parse_complete(body);
    EXPECT_FALSE(r.error);
    EXPECT_EQ(r.etag, "3858f62230ac3c915f300c664312c11f-9");
}

TEST(s3_replies, reply_error_message_is_readable) {
    auto e = reply_error("get", "a/b", 404, error_doc("NoSuchKey", "The specified key does not exist."));
    EXPECT_EQ(e.code(), errc::not_found);
    EXPECT_STREQ(e.what(), "get a/b: 404 NoSuchKey (The specified key does not exist.)");
}

TEST(s3_replies, upload_id_and_list_objects_v2_with_continuation) {
    EXPECT_EQ(parse_upload_id("<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key><UploadId>VXBsb2Fk&amp;x</UploadId>"
                              "</InitiateMultipartUploadResult>"),
              "VXBsb2Fk&x");
    EXPECT_FALSE(parse_upload_id("<InitiateMultipartUploadResult></InitiateMultipartUploadResult>"));
    const std::string page = R"(<ListBucketResult><Name>b</Name><Prefix>p/</Prefix><KeyCount>2</KeyCount>
<IsTruncated>true</IsTruncated><NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>
<Contents><Key>p/a &amp; b.txt</Key><LastModified>2009-10-12T17:50:30.000Z</LastModified><ETag>"fba9dede5f27731c9771645a39863328"</ETag><Size>434234</Size></Contents>
<Contents><Key>p/c</Key><LastModified>2009-10-12T17:50:31Z</LastModified><ETag>&quot;x-2&quot;</ETag><Size>0</Size></Contents>
</ListBucketResult>)";
    auto p = parse_list_objects(page);
    ASSERT_EQ(p.objects.size(), 2u);
    EXPECT_EQ(p.objects[0].key, "p/a & b.txt");
    EXPECT_EQ(p.objects[0].size, 434234u);
    EXPECT_EQ(p.objects[0].etag, "fba9dede5f27731c9771645a39863328");
    EXPECT_EQ(std::chrono::system_clock::to_time_t(p.objects[0].last_modified), 1255369830);
    EXPECT_EQ(p.objects[1].etag, "x-2");
    EXPECT_EQ(p.next, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
    EXPECT_FALSE(parse_list_objects("<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>").next);
    EXPECT_THROW(parse_list_objects("<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>"), error);
}

TEST(s3_replies, list_multipart_uploads_and_delete_errors) {
    auto u = parse_list_uploads(R"(<ListMultipartUploadsResult><Bucket>b</Bucket><IsTruncated>true</IsTruncated>
<NextKeyMarker>k2</NextKeyMarker><NextUploadIdMarker>id2</NextUploadIdMarker>
<Upload><Key>k1</Key><UploadId>id1</UploadId><Initiated>2010-11-10T20:48:33.000Z</Initiated></Upload>
<Upload><Key>k2</Key><UploadId>id2</UploadId><Initiated>2010-11-10T20:49:33.000Z</Initiated></Upload>
</ListMultipartUploadsResult>)");
    ASSERT_EQ(u.uploads.size(), 2u);
    EXPECT_EQ(u.uploads[1].key, "k2");
    EXPECT_EQ(u.uploads[1].upload_id, "id2");
    EXPECT_EQ(u.next_key_marker, "k2");
    auto failed = parse_delete_errors(R"(<DeleteResult><Deleted><Key>ok</Key></Deleted>
<Error><Key>bad &amp; key</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error></DeleteResult>)");
    ASSERT_EQ(failed.size(), 1u);
    EXPECT_EQ(failed[0], "bad & key");
}

TEST(s3_replies, request_bodies_escape_keys_and_quote_etags) {
    EXPECT_EQ(complete_body({{1, 5, "\"e1\""}, {2, 1, "e2"}}),
              "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Part><PartNumber>1</PartNumber>"
              "<ETag>&quot;e1&quot;</ETag></Part><Part><PartNumber>2</PartNumber><ETag>&quot;e2&quot;</ETag></Part>"
              "</CompleteMultipartUpload>");
    EXPECT_NE(delete_body({"a<b"}).find("<Object><Key>a&lt;b</Key></Object>"), std::string::npos);
}

TEST(s3_replies, dates_etags_and_gcs_hashes) {
    EXPECT_EQ(std::chrono::system_clock::to_time_t(*parse_http_date("Wed, 12 Oct 2009 17:50:00 GMT")), 1255369800);
    EXPECT_FALSE(parse_iso8601("yesterday"));
    EXPECT_EQ(unquote("\"abc\""), "abc");
    EXPECT_EQ(unquote("abc"), "abc");
    EXPECT_EQ(goog_hash("crc32c=n03x6A==,md5=Ojk9c3dhfxgoKVVHYwFbHQ==", "md5"), "Ojk9c3dhfxgoKVVHYwFbHQ==");
    EXPECT_EQ(goog_hash("crc32c=n03x6A==, md5=Ojk9c3dhfxgoKVVHYwFbHQ==", "crc32c"), "n03x6A==");
    EXPECT_FALSE(goog_hash("md5=x", "crc32c"));
}

// Found by tests/fuzz/s3_replies_fuzz: a date outside what system_clock's 64-bit nanoseconds hold
// (1677-2262) overflowed from_time_t (undefined behaviour; a garbage time in practice).
TEST(s3_dates, dates_outside_the_clocks_range_are_refused) {
    EXPECT_FALSE(parse_iso8601("1000-01-01T00:00:00.000Z"));
    EXPECT_FALSE(parse_iso8601("9999-12-31T23:59:59.999Z"));
    EXPECT_FALSE(parse_http_date("Mon, 01 Jan 1000 00:00:00 GMT"));
    EXPECT_TRUE(parse_iso8601("1700-01-01T00:00:00Z"));
    EXPECT_TRUE(parse_iso8601("2200-01-01T00:00:00.500Z"));
    // In a listing, the entry keeps its key and size and has no date.
    const auto page = parse_list_objects(
        "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>k</Key><Size>3</Size>"
        "<LastModified>0001-01-01T00:00:00.000Z</LastModified></Contents></ListBucketResult>");
    ASSERT_EQ(page.objects.size(), 1u);
    EXPECT_EQ(page.objects[0].key, "k");
    EXPECT_EQ(page.objects[0].size, 3u);
}

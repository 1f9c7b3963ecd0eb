// SigV4 against AWS's published vectors: the aws-sig-v4-test-suite (service "service") and the
// S3 API reference examples (header signing and the presigned URL).
#include "wharf/storage/s3/sigv4.hpp"

#include <gtest/gtest.h>

#include <chrono>

using namespace wharf::storage::sigv4;

namespace {

const credentials suite_creds{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};
const scope suite_scope{"us-east-1", "service"};
const credentials s3_creds{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""};
const scope s3_scope{"us-east-1", "s3"};

request_to_sign suite_get(param_list query) {
    request_to_sign r;
    r.method = "GET";
    r.canonical_uri = "/";
    r.query = std::move(query);
    r.headers = {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}};
    r.payload_hash = std::string(empty_payload_sha256);
    return r;
}

request_to_sign s3_get(std::string uri, param_list query, param_list extra = {}) {
    request_to_sign r;
    r.method = "GET";
    r.canonical_uri = std::move(uri);
    r.query = std::move(query);
    r.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
                 {"x-amz-date", "20130524T000000Z"},
                 {"x-amz-content-sha256", std::string(empty_payload_sha256)}};
    r.headers.insert(r.headers.end(), extra.begin(), extra.end());
    r.payload_hash = std::string(empty_payload_sha256);
    return r;
}

std::chrono::system_clock::time_point at(int y, int mo, int d) {
    using namespace std::chrono;
    return sys_days{year{y} / month{static_cast<unsigned>(mo)} / day{static_cast<unsigned>(d)}};
}

}  // namespace

TEST(sigv4_suite, get_vanilla) {
    auto parts = sign(suite_get({}), suite_creds, suite_scope, "20150830T123600Z");
    EXPECT_EQ(parts.canonical_request,
              "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(parts.signature, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
    EXPECT_EQ(authorization(suite_creds, suite_scope, "20150830", parts),
              "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
              "SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

TEST(sigv4_suite, get_vanilla_query_order_key_case) {
    auto parts = sign(suite_get({{"Param2", "value2"}, {"Param1", "value1"}}), suite_creds, suite_scope, "20150830T123600Z");
    EXPECT_EQ(canonical_query({{"Param2", "value2"}, {"Param1", "value1"}}), "Param1=value1&Param2=value2");
    EXPECT_EQ(sha256_hex(parts.canonical_request), "816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0");
    EXPECT_EQ(parts.signature, "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
}

TEST(sigv4_suite, get_vanilla_query_order_key_sorts_by_value_too) {
    auto parts = sign(suite_get({{"Param1", "value2"}, {"Param1", "Value1"}}), suite_creds, suite_scope, "20150830T123600Z");
    EXPECT_NE(parts.canonical_request.find("\nParam1=Value1&Param1=value2\n"), std::string::npos);
    EXPECT_EQ(parts.signature, "eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1");
}

TEST(sigv4_suite, post_x_www_form_urlencoded_signs_the_body_and_content_type) {
    request_to_sign r;
    r.method = "POST";
    r.headers = {{"Content-Type", "application/x-www-form-urlencoded"},
                 {"Host", "example.amazonaws.com"},
                 {"X-Amz-Date", "20150830T123600Z"}};
    r.payload_hash = sha256_hex(std::string_view("Param1=value1"));
    auto parts = sign(r, suite_creds, suite_scope, "20150830T123600Z");
    EXPECT_EQ(parts.signed_headers, "content-type;host;x-amz-date");
    EXPECT_EQ(parts.signature, "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a");
}

TEST(sigv4_s3_examples, get_object_with_range) {
    auto parts = sign(s3_get("/test.txt", {}, {{"Range", "bytes=0-9"}}), s3_creds, s3_scope, "20130524T000000Z");
    EXPECT_EQ(parts.signed_headers, "host;range;x-amz-content-sha256;x-amz-date");
    EXPECT_EQ(parts.signature, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(sigv4_s3_examples, put_object_with_encoded_key_and_signed_payload) {
    request_to_sign r;
    r.method = "PUT";
    r.canonical_uri = "/" + uri_encode("test$file.text", true);
    EXPECT_EQ(r.canonical_uri, "/test%24file.text");
    r.payload_hash = sha256_hex(std::string_view("Welcome to Amazon S3."));
    EXPECT_EQ(r.payload_hash, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
    r.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
                 {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                 {"x-amz-date", "20130524T000000Z"},
                 {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
                 {"x-amz-content-sha256", r.payload_hash}};
    auto parts = sign(r, s3_creds, s3_scope, "20130524T000000Z");
    EXPECT_EQ(parts.signature, "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

TEST(sigv4_s3_examples, get_bucket_lifecycle_with_valueless_parameter) {
    auto parts = sign(s3_get("/", {{"lifecycle", ""}}), s3_creds, s3_scope, "20130524T000000Z");
    EXPECT_TRUE(parts.canonical_request.starts_with("GET\n/\nlifecycle=\n"));
    EXPECT_EQ(parts.signature, "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
}

TEST(sigv4_s3_examples, list_objects_sorts_the_query) {
    auto parts = sign(s3_get("/", {{"prefix", "J"}, {"max-keys", "2"}}), s3_creds, s3_scope, "20130524T000000Z");
    EXPECT_EQ(parts.signature, "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

TEST(sigv4_s3_examples, presigned_get_url) {
    signer s(s3_creds, s3_scope);
    request_to_sign r;
    r.method = "GET";
    r.canonical_uri = "/test.txt";
    r.headers = {{"host", "examplebucket.s3.amazonaws.com"}};
    signature_parts parts;
    const std::string q = s.presign_query(r, at(2013, 5, 24), std::chrono::seconds(86400), &parts);
    EXPECT_EQ(sha256_hex(parts.canonical_request), "3bfa292879f6447bbcda7001decf97f4a54dc650c8942174ae0a9121cf58ad04");
    EXPECT_EQ(q,
              "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
              "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
              "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
}

TEST(sigv4, presign_expiry_is_clamped_to_one_second_and_seven_days) {
    EXPECT_EQ(clamp_expiry(std::chrono::seconds(0)).count(), 1);
    EXPECT_EQ(clamp_expiry(std::chrono::seconds(-5)).count(), 1);
    EXPECT_EQ(clamp_expiry(std::chrono::seconds(604801)).count(), 604800);
    EXPECT_EQ(clamp_expiry(std::chrono::seconds(3600)).count(), 3600);
    signer s(s3_creds, s3_scope);
    request_to_sign r;
    r.method = "GET";
    r.headers = {{"host", "h"}};
    EXPECT_NE(s.presign_query(r, at(2020, 1, 1), std::chrono::hours(24 * 30)).find("X-Amz-Expires=604800&"), std::string::npos);
}

TEST(sigv4, uri_encode_keeps_unreserved_and_optionally_slash) {
    EXPECT_EQ(uri_encode("a b/c~d*e+f=g", true), "a%20b/c~d%2Ae%2Bf%3Dg");
    EXPECT_EQ(uri_encode("a b/c", false), "a%20b%2Fc");
    EXPECT_EQ(uri_encode("-._~AZaz09", false), "-._~AZaz09");
    EXPECT_EQ(uri_encode("\xc3\xa9", false), "%C3%A9");
}

TEST(sigv4, header_values_are_trimmed_and_spaces_collapsed) {
    auto [block, names] = canonical_headers({{"My-Header", "  a   b \t c  "}, {"x-dup", "1"}, {"X-Dup", "2"}});
    EXPECT_EQ(block, "my-header:a b c\nx-dup:1,2\n");
    EXPECT_EQ(names, "my-header;x-dup");
}

TEST(sigv4, signer_adds_date_payload_token_and_authorization_headers) {
    signer s({"AK", "SK", "TOKEN"}, s3_scope);
    request_to_sign r;
    r.method = "PUT";
    r.canonical_uri = "/b/k";
    r.headers = {{"host", "h"}};
    r.payload_hash = std::string(unsigned_payload);
    param_list out;
    auto parts = s.sign_headers(r, at(2024, 2, 29), out);
    ASSERT_EQ(out.size(), 4u);
    EXPECT_EQ(out[0], (std::pair<std::string, std::string>("x-amz-date", "20240229T000000Z")));
    EXPECT_EQ(out[1], (std::pair<std::string, std::string>("x-amz-content-sha256", "UNSIGNED-PAYLOAD")));
    EXPECT_EQ(out[2], (std::pair<std::string, std::string>("x-amz-security-token", "TOKEN")));
    EXPECT_EQ(parts.signed_headers, "host;x-amz-content-sha256;x-amz-date;x-amz-security-token");
    EXPECT_TRUE(out[3].second.starts_with("AWS4-HMAC-SHA256 Credential=AK/20240229/us-east-1/s3/aws4_request, "));
    // The cached key gives what a fresh derivation gives.
    r.headers.insert(r.headers.end(), out.begin(), out.end() - 1);
    EXPECT_EQ(sign(r, s.creds(), s3_scope, "20240229T000000Z").signature, parts.signature);
}

TEST(sigv4, sha256_helper) {
    EXPECT_EQ(sha256_hex(std::string_view("")), empty_payload_sha256);
}

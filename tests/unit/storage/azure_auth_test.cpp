// Azure SharedKey and SAS signing, offline. Vectors: the string-to-sign example of Microsoft's
// "Authorize with Shared Key" page, and signatures computed by an independent implementation
// (Node's crypto, the signer of ../shared/peers/storage/az_check.js, which Azurite accepts) for
// the emulator's well-known account key. integration_azure checks the same code against Azurite.
#include "wharf/storage/azure_auth.hpp"
#include "wharf/storage/sha256.hpp"

#include <gtest/gtest.h>

using namespace wharf::storage;
using namespace wharf::storage::azure;

namespace {
const std::string devstore_key =
    *base64_decode("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==");
}

TEST(azure_shared_key, string_to_sign_matches_the_documented_example) {
    shared_key_request r{"GET", "/mycontainer", {{"restype", "container"}, {"comp", "metadata"}, {"timeout", "20"}},
                         {{"x-ms-version", "2015-02-21"}, {"x-ms-date", "Fri, 26 Jun 2015 23:39:12 GMT"}}};
    EXPECT_EQ(shared_key_string_to_sign("myaccount", r),
              "GET\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:Fri, 26 Jun 2015 23:39:12 GMT\nx-ms-version:2015-02-21\n"
              "/myaccount/mycontainer\ncomp:metadata\nrestype:container\ntimeout:20");
}

TEST(azure_shared_key, put_block_signature_matches_an_independent_signer) {
    shared_key_request r{"PUT",
                         "/devstoreaccount1/media/dir/clip%20one.bin",
                         {{"comp", "block"}, {"blockid", "YmxvY2stMDAwMDAx"}},
                         {{"x-ms-date", "Sat, 21 Nov 2026 07:00:00 GMT"},
                          {"x-ms-version", "2021-12-02"},
                          {"Content-Length", "5"},
                          {"Content-MD5", "XUFAKrxLKna5cZ2REBfFkg=="},
                          {"X-MS-Meta-Sha256", "abc"}}};
    EXPECT_EQ(shared_key_string_to_sign("devstoreaccount1", r),
              "PUT\n\n\n5\nXUFAKrxLKna5cZ2REBfFkg==\n\n\n\n\n\n\n\nx-ms-date:Sat, 21 Nov 2026 07:00:00 GMT\n"
              "x-ms-meta-sha256:abc\nx-ms-version:2021-12-02\n/devstoreaccount1/devstoreaccount1/media/dir/clip%20one.bin\n"
              "blockid:YmxvY2stMDAwMDAx\ncomp:block");
    EXPECT_EQ(shared_key_authorization("devstoreaccount1", devstore_key, r),
              "SharedKey devstoreaccount1:mImWmXFXszKYPyjnzBeLRoPgRzmWbCFsBzK9lkFuoh8=");
}

TEST(azure_shared_key, zero_content_length_and_range) {
    shared_key_request r{"GET",
                         "/devstoreaccount1/media",
                         {{"restype", "container"}, {"comp", "list"}, {"prefix", "dir/"}},
                         {{"x-ms-date", "Sat, 21 Nov 2026 07:00:00 GMT"},
                          {"x-ms-version", "2021-12-02"},
                          {"Content-Length", "0"},
                          {"Range", "bytes=0-99"}}};
    EXPECT_EQ(shared_key_authorization("devstoreaccount1", devstore_key, r),
              "SharedKey devstoreaccount1:qg9seI1niwmdV1mQ5AtSbXloJnmoJxb0EKrCoD1kSOc=");
}

TEST(azure_shared_key, repeated_query_names_are_joined_sorted_and_headers_unfolded) {
    shared_key_request r{"GET", "/c", {{"Include", "snapshots"}, {"include", "metadata"}},
                         {{"x-ms-date", "d"}, {"x-ms-meta-a", "  two   words "}}};
    const auto s = shared_key_string_to_sign("acct", r);
    EXPECT_TRUE(s.ends_with("x-ms-meta-a:two words\n/acct/c\ninclude:metadata,snapshots")) << s;
}

TEST(azure_sas, string_to_sign_has_the_2020_12_06_layout) {
    blob_sas sas;
    sas.account = "devstoreaccount1";
    sas.container = "media";
    sas.blob = "dir/clip one.bin";
    sas.permissions = "r";
    sas.start = std::chrono::system_clock::from_time_t(1'795'000'000);
    sas.expiry = sas.start + std::chrono::hours(1);
    EXPECT_EQ(sas_string_to_sign(sas), "r\n2026-11-18T11:06:40Z\n2026-11-18T12:06:40Z\n/blob/devstoreaccount1/media/dir/clip one.bin\n"
                                       "\n\nhttps,http\n2021-12-02\nb\n\n\n\n\n\n\n");
    const auto q = sas_query(sas, devstore_key);
    EXPECT_TRUE(q.starts_with("sv=2021-12-02&st=2026-11-18T11%3A06%3A40Z&se=2026-11-18T12%3A06%3A40Z&sr=b&sp=r&spr=https%2Chttp&sig="))
        << q;
}

TEST(azure_time, formats) {
    const auto t = std::chrono::system_clock::from_time_t(784111777);  // RFC 7231's example
    EXPECT_EQ(http_date(t), "Sun, 06 Nov 1994 08:49:37 GMT");
    EXPECT_EQ(iso8601(t), "1994-11-06T08:49:37Z");
}

// AZURE_STORAGE_CONNECTION_STRING, as the Azure SDKs read it.
#include "wharf/storage/azure_connection_string.hpp"

TEST(azure_connection_string, account_key_and_endpoint_from_the_usual_forms) {
    using wharf::storage::azure::parse_connection_string;
    std::string why;
    auto s = parse_connection_string(
        "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=a2V5PT0=;EndpointSuffix=core.windows.net", &why);
    ASSERT_TRUE(s) << why;
    EXPECT_EQ(s->account, "acme");
    EXPECT_EQ(s->key, "a2V5PT0=");  // a value keeps its '='
    EXPECT_EQ(s->endpoint, "https://acme.blob.core.windows.net");
    s = parse_connection_string(" accountname = acme ; ACCOUNTKEY=k==;", &why);  // case, spaces, a trailing ';'
    ASSERT_TRUE(s) << why;
    EXPECT_EQ(s->endpoint, "https://acme.blob.core.windows.net");
    s = parse_connection_string("AccountName=devstoreaccount1;AccountKey=k;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1/",
                                &why);
    ASSERT_TRUE(s) << why;
    EXPECT_EQ(s->endpoint, "http://127.0.0.1:10000/devstoreaccount1");
    s = parse_connection_string("UseDevelopmentStorage=true", &why);
    ASSERT_TRUE(s) << why;
    EXPECT_EQ(s->account, "devstoreaccount1");
    EXPECT_EQ(s->endpoint, "http://127.0.0.1:10000/devstoreaccount1");
    s = parse_connection_string("DefaultEndpointsProtocol=http;AccountName=a1;AccountKey=k;EndpointSuffix=core.chinacloudapi.cn",
                                &why);
    ASSERT_TRUE(s) << why;
    EXPECT_EQ(s->endpoint, "http://a1.blob.core.chinacloudapi.cn");
}

TEST(azure_connection_string, unusable_strings_are_named_without_the_key) {
    using wharf::storage::azure::parse_connection_string;
    for (const char* bad : {"", ";;", "AccountName=acme", "AccountKey=s3cr3tkey", "AccountName=acme;AccountKey=s3cr3tkey;AccountKey=x",
                            "BlobEndpoint=https://x;SharedAccessSignature=sv=2020&sig=s3cr3tkey",
                            "AccountName=ac-me;AccountKey=s3cr3tkey", "AccountName=acme;AccountKey=s3cr3tkey;BlobEndpoint=ftp://x",
                            "AccountName=acme;AccountKey=s3cr3tkey;DefaultEndpointsProtocol=gopher", "just text",
                            "UseDevelopmentStorage=false", "AccountName=a;AccountKey=s3cr3tkey;BlobEndpoint=http://",
                            "AccountName=a;AccountKey=s3cr3tkey;BlobEndpoint=https:///x"}) {
        std::string why;
        EXPECT_FALSE(parse_connection_string(bad, &why)) << bad;
        EXPECT_FALSE(why.empty()) << bad;
        EXPECT_EQ(why.find("s3cr3tkey"), std::string::npos) << why;
    }
    std::string why;
    EXPECT_FALSE(parse_connection_string(std::string(5000, 'a'), &why));
}

// Blob Batch bodies and replies, offline: the body's exact bytes, the reply shape of Microsoft's
// Blob Batch page (202, 404 with an XML body), Azurite's shape, a batch refused as a whole, and
// replies that are not batch replies. integration_azure sends real batches to Azurite.
#include "wharf/storage/azure_batch.hpp"
#include "wharf/storage/error.hpp"

#include <gtest/gtest.h>

using namespace wharf::storage;
using namespace wharf::storage::azure;

TEST(azure_batch, the_body_is_one_application_http_part_per_subrequest_with_crlf_lines) {
    std::vector<batch_subrequest> subs;
    subs.push_back({"DELETE", "/media/a%20b", {{"x-ms-date", "D"}, {"Authorization", "SharedKey acct:sig0"}}});
    subs.push_back({"DELETE", "/media/c", {{"x-ms-date", "D"}, {"Content-Length", "0"}}});
    EXPECT_EQ(batch_body("batch_x1", subs),
              "--batch_x1\r\n"
              "Content-Type: application/http\r\n"
              "Content-Transfer-Encoding: binary\r\n"
              "Content-ID: 0\r\n"
              "\r\n"
              "DELETE /media/a%20b HTTP/1.1\r\n"
              "x-ms-date: D\r\n"
              "Authorization: SharedKey acct:sig0\r\n"
              "\r\n"
              "--batch_x1\r\n"
              "Content-Type: application/http\r\n"
              "Content-Transfer-Encoding: binary\r\n"
              "Content-ID: 1\r\n"
              "\r\n"
              "DELETE /media/c HTTP/1.1\r\n"
              "x-ms-date: D\r\n"
              "Content-Length: 0\r\n"
              "\r\n"
              "--batch_x1--\r\n");
}

TEST(azure_batch, the_documented_reply_gives_one_status_per_content_id) {
    const std::string reply =
        "--batchresponse_66925647-d0cb\r\n"
        "Content-Type: application/http\r\n"
        "Content-ID: 0\r\n"
        "\r\n"
        "HTTP/1.1 202 Accepted\r\n"
        "x-ms-delete-type-permanent: true\r\n"
        "x-ms-request-id: 778fdc83-801e-0000-62ff-0334671e284f\r\n"
        "x-ms-version: 2018-11-09\r\n"
        "\r\n"
        "--batchresponse_66925647-d0cb\r\n"
        "Content-Type: application/http\r\n"
        "Content-ID: 2\r\n"
        "\r\n"
        "HTTP/1.1 404 The specified blob does not exist.\r\n"
        "x-ms-error-code: BlobNotFound\r\n"
        "Content-Length: 216\r\n"
        "Content-Type: application/xml\r\n"
        "\r\n"
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n"
        "<Error><Code>BlobNotFound</Code><Message>The specified blob does not exist.\r\n"
        "RequestId:778fdc83\r\nTime:2018-06-14T16:46:54.6040685Z</Message></Error>\r\n"
        "--batchresponse_66925647-d0cb\r\n"
        "Content-Type: application/http\r\n"
        "Content-ID: 1\r\n"
        "\r\n"
        "HTTP/1.1 403 Server failed to authenticate the request.\r\n"
        "x-ms-error-code: AuthenticationFailed\r\n"
        "\r\n"
        "--batchresponse_66925647-d0cb--";
    const auto parts = parse_batch_reply("multipart/mixed; boundary=batchresponse_66925647-d0cb", reply);
    ASSERT_EQ(parts.size(), 3u);
    EXPECT_EQ(parts[0].content_id, 0u);
    EXPECT_EQ(parts[0].status, 202u);
    EXPECT_EQ(parts[0].error_code, "");
    EXPECT_EQ(parts[1].content_id, 2u);
    EXPECT_EQ(parts[1].status, 404u);
    EXPECT_EQ(parts[1].error_code, "BlobNotFound");
    EXPECT_EQ(parts[1].message, "The specified blob does not exist.");
    EXPECT_EQ(parts[2].content_id, 1u);
    EXPECT_EQ(parts[2].status, 403u);
    EXPECT_EQ(parts[2].error_code, "AuthenticationFailed");
    EXPECT_EQ(parts[2].message, "Server failed to authenticate the request.");
}

TEST(azure_batch, azurites_reply_shape_and_a_quoted_boundary_parse_too) {
    // Azurite answers with the request's boundary, a blank line before each delimiter and an
    // XML body framed by CRLFs.
    const std::string reply =
        "--batch_1\r\nContent-Type: application/http\r\nContent-ID: 0\r\n\r\n"
        "HTTP/1.1 202 Accepted\r\nx-ms-delete-type-permanent: true\r\n\r\n"
        "--batch_1\r\nContent-Type: application/http\r\nContent-ID: 1\r\n\r\n"
        "HTTP/1.1 404 The specified blob does not exist.\r\nx-ms-error-code: BlobNotFound\r\n\r\n"
        "<?xml version=\"1.0\"?><Error><Code>BlobNotFound</Code><Message>gone</Message></Error>\r\n\r\n"
        "--batch_1--";
    const auto parts = parse_batch_reply("Multipart/Mixed; charset=utf-8; boundary=\"batch_1\"", reply);
    ASSERT_EQ(parts.size(), 2u);
    EXPECT_EQ(parts[0].status, 202u);
    EXPECT_EQ(parts[1].status, 404u);
    EXPECT_EQ(parts[1].message, "gone");
}

TEST(azure_batch, an_answer_without_content_id_is_the_batch_refused_as_a_whole) {
    const std::string reply =
        "--b\r\nContent-Type: application/http\r\n\r\n"
        "HTTP/1.1 400 The batch operation exceeds maximum number of allowed subrequests.\r\n"
        "x-ms-error-code: ExceedsMaxBatchRequestCount\r\n\r\n"
        "--b--\r\n";
    const auto parts = parse_batch_reply("multipart/mixed; boundary=b", reply);
    ASSERT_EQ(parts.size(), 1u);
    EXPECT_FALSE(parts[0].content_id);
    EXPECT_EQ(parts[0].status, 400u);
    EXPECT_EQ(parts[0].error_code, "ExceedsMaxBatchRequestCount");
}

TEST(azure_batch, replies_that_are_not_batch_replies_are_refused_with_a_reason) {
    auto reason = [](std::string_view type, std::string_view body) -> std::string {
        try {
            parse_batch_reply(type, body);
        } catch (const error& e) {
            EXPECT_EQ(e.code(), errc::permanent);
            return e.what();
        }
        return "accepted";
    };
    EXPECT_NE(reason("application/xml", "<Error/>").find("not multipart/mixed"), std::string::npos);
    EXPECT_NE(reason("multipart/mixed", "--b--").find("not multipart/mixed with a boundary"), std::string::npos);
    EXPECT_NE(reason("multipart/mixed; boundary=b", "no parts here").find("no part starts"), std::string::npos);
    const std::string cut = "--b\r\nContent-ID: 0\r\n\r\nHTTP/1.1 202 Accepted\r\n\r\n";  // the reply was cut short
    EXPECT_NE(reason("multipart/mixed; boundary=b", cut).find("without its closing boundary"), std::string::npos);
    EXPECT_NE(reason("multipart/mixed; boundary=b", "--b\r\nContent-ID: x\r\n\r\nHTTP/1.1 202 A\r\n\r\n--b--").find("Content-ID 'x'"),
              std::string::npos);
    EXPECT_NE(reason("multipart/mixed; boundary=b", "--b\r\nContent-ID: 0\r\n\r\nnot http\r\n\r\n--b--").find("no status line"),
              std::string::npos);
    EXPECT_EQ(parse_batch_reply("multipart/mixed; boundary=b", "--b--").size(), 0u);
}

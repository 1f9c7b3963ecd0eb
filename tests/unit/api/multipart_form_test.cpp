#include "wharf/http/multipart_form.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace {

using wharf::http::form_boundary;
using wharf::http::multipart_parser;
using kind = multipart_parser::event_kind;

struct part {
    std::string name;
    std::optional<std::string> filename;
    std::string content_type;
    std::string data;
};

struct outcome {
    std::vector<part> parts;
    bool done = false;
    std::string error;
};

// Feeds `body` in pieces of the given sizes (cycled), collecting every event.
outcome parse(const std::string& body, const std::string& boundary, std::vector<std::size_t> pieces,
              wharf::http::multipart_limits limits = {}) {
    multipart_parser p{boundary, limits};
    outcome out;
    std::size_t at = 0, turn = 0;
    bool open = false;
    while (true) {
        const auto k = p.next();
        if (k == kind::part_begin) {
            EXPECT_FALSE(open);
            open = true;
            out.parts.push_back({p.head().name, p.head().filename, p.head().content_type, {}});
        } else if (k == kind::data) {
            EXPECT_TRUE(open);
            EXPECT_FALSE(p.data().empty());
            out.parts.back().data += p.data();
        } else if (k == kind::part_end) {
            EXPECT_TRUE(open);
            open = false;
        } else if (k == kind::done) {
            out.done = true;
            return out;
        } else if (k == kind::error) {
            out.error = p.error();
            return out;
        } else if (at < body.size()) {
            const auto n = std::min(pieces[turn++ % pieces.size()], body.size() - at);
            p.feed(std::string_view(body).substr(at, n));
            at += n;
        } else {
            p.end_of_input();
        }
    }
}

const std::string boundary = "----WebKitFormBoundary7MA4YWxkTrZu0gW";

std::string form(const std::string& file_bytes) {
    return "--" + boundary +
           "\r\nContent-Disposition: form-data; name=\"is_temp\"\r\n\r\ntrue\r\n--" + boundary +
           "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"clip \\\"one\\\".mp4\"\r\n"
           "Content-Type: video/mp4\r\n\r\n" +
           file_bytes + "\r\n--" + boundary + "--\r\n";
}

TEST(MultipartForm, FieldsAndAFileInOnePiece) {
    const auto r = parse(form("hello"), boundary, {1 << 20});
    ASSERT_TRUE(r.done) << r.error;
    ASSERT_EQ(r.parts.size(), 2u);
    EXPECT_EQ(r.parts[0].name, "is_temp");
    EXPECT_FALSE(r.parts[0].filename);
    EXPECT_EQ(r.parts[0].content_type, "text/plain");
    EXPECT_EQ(r.parts[0].data, "true");
    EXPECT_EQ(r.parts[1].name, "file");
    EXPECT_EQ(r.parts[1].filename, "clip \"one\".mp4");
    EXPECT_EQ(r.parts[1].content_type, "video/mp4");
    EXPECT_EQ(r.parts[1].data, "hello");
}

// Data that holds every prefix of the delimiter, CRLFs and dashes, split at every possible place.
TEST(MultipartForm, DataLikeTheBoundaryAtEveryChunkSize) {
    // (The whole delimiter never occurs in the data: a sender picks a boundary that does not.)
    const std::string tricky = "\r\n-\r\n--\r\n--" + boundary.substr(0, 10) + "x\r\n--" +
                               boundary.substr(0, boundary.size() - 1) + "\r\r\n\n--";
    std::string file;
    for (int i = 0; i < 256; ++i) file += static_cast<char>(i);
    file += tricky;
    const auto body = form(file);
    for (std::size_t n = 1; n <= 80; ++n) {
        const auto r = parse(body, boundary, {n});
        ASSERT_TRUE(r.done) << "chunk " << n << ": " << r.error;
        ASSERT_EQ(r.parts.size(), 2u);
        EXPECT_EQ(r.parts[1].data, file) << "chunk " << n;
    }
    std::mt19937 rng{7};
    for (int round = 0; round < 200; ++round) {
        std::vector<std::size_t> pieces;
        for (int i = 0; i < 16; ++i) pieces.push_back(1 + rng() % 97);
        const auto r = parse(body, boundary, pieces);
        ASSERT_TRUE(r.done) << r.error;
        EXPECT_EQ(r.parts[1].data, file);
    }
}

TEST(MultipartForm, ABigPartPassesThroughWithoutBeingKept) {
    const std::string chunk(64 << 10, 'v');
    multipart_parser p{boundary};
    p.feed("--" + boundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\n\r\n");
    ASSERT_EQ(p.next(), kind::part_begin);
    std::size_t seen = 0;
    for (int i = 0; i < 256; ++i) {  // 16 MiB
        p.feed(chunk);
        while (true) {
            const auto k = p.next();
            if (k == kind::need_more) break;
            ASSERT_EQ(k, kind::data);
            seen += p.data().size();
        }
    }
    p.feed("\r\n--" + boundary + "--");
    auto k = p.next();
    while (k == kind::data) {
        seen += p.data().size();
        k = p.next();
    }
    EXPECT_EQ(k, kind::part_end);
    EXPECT_EQ(p.next(), kind::done);
    EXPECT_EQ(seen, 256u * chunk.size());
}

TEST(MultipartForm, PreambleAndEpilogueAreIgnored) {
    const auto r = parse("this is a preamble\r\n" + form("x") + "and an epilogue", boundary, {7});
    ASSERT_TRUE(r.done) << r.error;
    EXPECT_EQ(r.parts.size(), 2u);
}

TEST(MultipartForm, AnEmptyFileAndAnEmptyHead) {
    const std::string body = "--b\r\n\r\nno headers\r\n--b\r\nContent-Disposition: form-data; name=f; filename=e\r\n\r\n\r\n--b--";
    const auto r = parse(body, "b", {3});
    EXPECT_FALSE(r.done);
    EXPECT_EQ(r.error, "a part without a Content-Disposition");
    const auto only_file = parse("--b\r\nContent-Disposition: form-data; name=f; filename=e\r\n\r\n\r\n--b--", "b", {3});
    ASSERT_TRUE(only_file.done) << only_file.error;
    ASSERT_EQ(only_file.parts.size(), 1u);
    EXPECT_EQ(only_file.parts[0].data, "");
    EXPECT_EQ(only_file.parts[0].filename, "e");
}

TEST(MultipartForm, TruncatedBodiesAreErrorsNotShortFiles) {
    const auto body = form(std::string(1000, 'z'));
    for (std::size_t cut : {std::size_t{0}, std::size_t{5}, std::size_t{60}, std::size_t{200}, body.size() - 10,
                            body.size() - 4}) {
        const auto r = parse(body.substr(0, cut), boundary, {13});
        EXPECT_FALSE(r.done) << cut;
        EXPECT_FALSE(r.error.empty()) << cut;
    }
}

TEST(MultipartForm, LimitsAndMalformedHeads) {
    const std::string big_head = "--b\r\nContent-Disposition: form-data; name=f\r\nX-Pad: " + std::string(9000, 'p') +
                                 "\r\n\r\nx\r\n--b--";
    EXPECT_EQ(parse(big_head, "b", {100}).error, "a part's headers are too large");
    EXPECT_EQ(parse(big_head, "b", {1 << 20}).error, "a part's headers are too large");
    std::string many;
    for (int i = 0; i < 40; ++i) many += "--b\r\nContent-Disposition: form-data; name=f\r\n\r\nx\r\n";
    many += "--b--";
    EXPECT_EQ(parse(many, "b", {64}).error, "more than 32 parts");
    EXPECT_EQ(parse("--b\r\nContent-Disposition: attachment; name=f\r\n\r\nx\r\n--b--", "b", {64}).error,
              "a part whose disposition is not form-data");
    EXPECT_EQ(parse("--b\r\nContent-Disposition: form-data; filename=f\r\n\r\nx\r\n--b--", "b", {64}).error,
              "a part without a name");
    EXPECT_EQ(parse("--b\r\nContent-Disposition: form-data; name=\"f\r\n\r\nx\r\n--b--", "b", {64}).error,
              "a malformed Content-Disposition");
    EXPECT_EQ(parse("--b\r\nContent-Disposition: form-data; name=f\r\n folded\r\n\r\nx\r\n--b--", "b", {64}).error,
              "a folded part header");
    EXPECT_EQ(parse("--bX\r\n", "b", {64}).error, "a boundary line followed by other text");
    EXPECT_EQ(parse("no boundary here at all", "b", {4}).error, "the body has no boundary line");
}

TEST(MultipartForm, BoundaryFromContentType) {
    EXPECT_EQ(form_boundary("multipart/form-data; boundary=abc"), "abc");
    EXPECT_EQ(form_boundary("Multipart/Form-Data;boundary=\"a b'c\""), "a b'c");
    EXPECT_EQ(form_boundary("multipart/form-data; charset=utf-8; boundary=x-1"), "x-1");
    std::string why;
    EXPECT_FALSE(form_boundary("application/json", &why));
    EXPECT_EQ(why, "the Content-Type must be multipart/form-data");
    EXPECT_FALSE(form_boundary("multipart/form-data", &why));
    EXPECT_EQ(why, "the Content-Type has no boundary");
    EXPECT_FALSE(form_boundary("multipart/form-data; boundary=" + std::string(71, 'a'), &why));
    EXPECT_FALSE(form_boundary("multipart/form-data; boundary=\"a\\\"b\"", &why));
    EXPECT_FALSE(form_boundary("multipart/form-data; boundary=\"\"", &why));
    EXPECT_FALSE(form_boundary("multipart/form-data; boundary=\"trailing \"", &why));
}

}  // namespace

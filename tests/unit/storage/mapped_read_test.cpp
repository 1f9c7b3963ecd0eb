// Mapped reads: the bytes in order, and a file truncated while mapped is a failed read (SIGBUS
// caught by the guard), not a dead process.
#include "mapped_read.hpp"  // internal to the storage library (common/storage/src)

#include "wharf/test/process.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <string>

using namespace wharf::storage::detail;

namespace {

struct collected {
    std::string bytes;
    int fd_to_truncate = -1;  // truncated to 4 KiB after the first slice
    int slices = 0;
    static void feed(void* self, const char* data, std::size_t n) {
        auto* c = static_cast<collected*>(self);
        c->bytes.append(data, n);
        if (++c->slices == 1 && c->fd_to_truncate >= 0) (void)::ftruncate(c->fd_to_truncate, 4096);
    }
};

std::string pattern(std::size_t n) {
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>(i * 131 + 7);
    return s;
}

}  // namespace

TEST(mapped_read, feeds_the_region_in_order_from_any_offset) {
    if (!mapped_reads_available()) GTEST_SKIP() << "mapped reads are off under AddressSanitizer";
    wharf::test::temp_dir dir("wharf-mapped");
    const auto path = dir.path() / "f.bin";
    const std::string content = pattern(3 << 20);
    std::ofstream(path, std::ios::binary).write(content.data(), static_cast<std::streamsize>(content.size()));
    const int fd = ::open(path.c_str(), O_RDONLY);
    ASSERT_GE(fd, 0);
    collected c;
    ASSERT_TRUE(read_mapped(fd, 12'345, 2'000'000, 65'536, &collected::feed, &c));
    EXPECT_TRUE(c.bytes == content.substr(12'345, 2'000'000));
    EXPECT_EQ(c.slices, (2'000'000 + 65'535) / 65'536);
    collected none;
    EXPECT_TRUE(read_mapped(fd, 0, 0, 65'536, &collected::feed, &none));
    EXPECT_EQ(none.slices, 0);
    ::close(fd);
}

TEST(mapped_read, a_file_truncated_while_mapped_is_a_failed_read_not_a_crash) {
    if (!mapped_reads_available()) GTEST_SKIP() << "mapped reads are off under AddressSanitizer";
    wharf::test::temp_dir dir("wharf-mapped");
    const auto path = dir.path() / "f.bin";
    const std::string content = pattern(8 << 20);
    std::ofstream(path, std::ios::binary).write(content.data(), static_cast<std::streamsize>(content.size()));
    const int fd = ::open(path.c_str(), O_RDONLY);
    const int writer = ::open(path.c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    ASSERT_GE(writer, 0);
    for (int round = 0; round < 3; ++round) {  // and the guard works again after a caught fault
        collected c;
        c.fd_to_truncate = writer;
        EXPECT_FALSE(read_mapped(fd, 0, content.size(), 1 << 20, &collected::feed, &c));
        EXPECT_EQ(c.slices, 1);
        ASSERT_EQ(::ftruncate(writer, static_cast<off_t>(content.size())), 0);  // grow back (zeros)
    }
    ::close(writer);
    ::close(fd);
}

// Which files beside a download's destination are its temp files (what a killed attempt leaves
// and the next attempt removes), and that the library's own temp names are recognised.
#include "file_io.hpp"
#include "wharf/storage/provider.hpp"

#include <gtest/gtest.h>

#include <string>

using wharf::storage::is_download_temp_of;

TEST(download_temp, the_temp_file_of_a_destination_and_nothing_else) {
    EXPECT_TRUE(is_download_temp_of(".wharf-tmp-0123456789ab-publish-read-q-j1.txt", "publish-read-q-j1.txt"));
    EXPECT_TRUE(is_download_temp_of(wharf::storage::detail::temp_file_name("source"), "source"));
    // Another destination whose name ends the same, or extends it.
    EXPECT_FALSE(is_download_temp_of(".wharf-tmp-0123456789ab-x-publish-read-q-j1.txt", "publish-read-q-j1.txt"));
    EXPECT_FALSE(is_download_temp_of(".wharf-tmp-0123456789ab-j10.txt", "j1.txt"));
    // Not the library's shape: wrong prefix, not 12 hex digits, no separator, the destination itself.
    EXPECT_FALSE(is_download_temp_of(".wharf-tmq-0123456789ab-j1.txt", "j1.txt"));
    EXPECT_FALSE(is_download_temp_of(".wharf-tmp-0123456789aZ-j1.txt", "j1.txt"));
    EXPECT_FALSE(is_download_temp_of(".wharf-tmp-0123456789abc-j1.txt", "j1.txt"));
    EXPECT_FALSE(is_download_temp_of("j1.txt", "j1.txt"));
    // A long destination name is cut so that the temp name fits in 255 bytes.
    const std::string leaf(300, 'n');
    const std::string temp = wharf::storage::detail::temp_file_name(leaf.substr(0, 255 - wharf::storage::detail::temp_overhead));
    EXPECT_EQ(temp.size(), 255u);
    EXPECT_TRUE(is_download_temp_of(temp, leaf));
}

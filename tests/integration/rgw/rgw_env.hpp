// The RGW every test of this binary shares (started once, by a gtest Environment in rgw_test.cpp).
#pragma once

#include "wharf/test/rgw_server.hpp"

namespace wharf::test {
rgw_server& shared_rgw();
}

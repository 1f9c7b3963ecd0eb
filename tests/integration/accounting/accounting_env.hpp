// What the integration_accounting binary shares: the PostgreSQL helpers of tests/support and the
// SMTP sink.
#pragma once

#include "wharf/test/pg_env.hpp"
#include "wharf/test/smtp_sink.hpp"

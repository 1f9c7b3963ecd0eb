'use strict';
// The peers' helpers (../shared/peers/queue/common.js: monotonic clock, payload, percentiles,
// argument parsing), used as they are so that both sides of the comparison share them.
const path = require('path');

const dir = process.env.WHARF_PEERS_QUEUE || path.resolve(__dirname, '../../../shared/peers/queue');
module.exports = require(path.join(dir, 'common.js'));
module.exports.peersDir = dir;

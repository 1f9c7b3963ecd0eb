// The seeds' Node stack doing what wharf-api's two benchmarked routes do: Express, node-postgres,
// and @aws-sdk/s3-request-presigner. Same tables, same key check, same JSON.
const crypto = require('crypto');
const express = require('express');
const { Pool } = require('pg');
const { S3Client, GetObjectCommand } = require('@aws-sdk/client-s3');
const { getSignedUrl } = require('@aws-sdk/s3-request-presigner');

const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: 16 });
const s3 = new S3Client({ endpoint: process.env.S3_ENDPOINT, region: 'us-east-1', forcePathStyle: true,
                          credentials: { accessKeyId: 'bench', secretAccessKey: 'bench-secret' } });
const app = express();

async function tenantOf(req) {
  const auth = req.get('Authorization') || '';
  if (!auth.startsWith('Bearer ')) return null;
  const key = auth.slice(7);
  const parts = key.split('_');
  if (parts.length !== 3 || parts[0] !== 'wk') return null;
  const r = await pool.query('SELECT key_sha256, tenant, revoked_at IS NOT NULL AS revoked FROM api_credentials WHERE prefix = $1',
                             [parts[1]]);
  if (r.rows.length === 0 || r.rows[0].revoked) return null;
  const hash = crypto.createHash('sha256').update(key).digest();
  if (!crypto.timingSafeEqual(hash, r.rows[0].key_sha256)) return null;
  return r.rows[0].tenant;
}

app.get('/api/v1/jobs/:id', async (req, res) => {
  const tenant = await tenantOf(req);
  if (!tenant) return res.status(401).json({ error: 'a valid API key is required' });
  const r = await pool.query(
    'SELECT id, queue, status, attempts, max_attempts, epoch, error, result, progress, api_key, parent_id, ' +
    'created_at::text, updated_at::text, started_at::text, finished_at::text, run_at::text ' +
    'FROM jobs WHERE id = $1 AND api_key = $2', [req.params.id, tenant]);
  if (r.rows.length === 0) return res.status(404).json({ error: 'no such job' });
  res.json(r.rows[0]);
});

app.get('/api/v1/jobs/:id/download/:fileType', async (req, res) => {
  const tenant = await tenantOf(req);
  if (!tenant) return res.status(401).json({ error: 'a valid API key is required' });
  const r = await pool.query('SELECT status, result FROM jobs WHERE id = $1 AND api_key = $2', [req.params.id, tenant]);
  if (r.rows.length === 0) return res.status(404).json({ error: 'no such job' });
  if (r.rows[0].status !== 'succeeded') return res.status(400).json({ error: 'not completed' });
  const artifact = ((r.rows[0].result || {}).artifacts || {})[req.params.fileType];
  if (!artifact) return res.status(404).json({ error: 'no such file' });
  const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'media', Key: artifact.key }), { expiresIn: 3600 });
  res.json({ id: req.params.id, file_type: req.params.fileType, url, expires_in: 3600, size: artifact.size,
             sha256: artifact.sha256 });
});

app.listen(Number(process.env.PORT), '127.0.0.1');

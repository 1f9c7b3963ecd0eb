"""The seeds' Python stack doing what wharf-api's two benchmarked routes do: FastAPI under
uvicorn, psycopg2 for PostgreSQL, boto3 for the presigned URL. Same tables, same key check
(SHA-256 of the key against api_credentials, compared in constant time), same JSON."""
import hashlib
import hmac
import os

import boto3
import psycopg2.pool
from botocore.config import Config
from fastapi import FastAPI, Header, HTTPException

# As many connections as the thread pool FastAPI runs sync routes on (anyio: 40).
pool = psycopg2.pool.ThreadedConnectionPool(1, 40, os.environ["DATABASE_URL"])
s3 = boto3.client("s3", endpoint_url=os.environ["S3_ENDPOINT"], region_name="us-east-1",
                  aws_access_key_id="bench", aws_secret_access_key="bench-secret",
                  config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
app = FastAPI()


def query(sql, args):
    conn = pool.getconn()
    try:
        with conn.cursor() as cur:
            cur.execute(sql, args)
            row = cur.fetchone()
        conn.commit()
        return row
    finally:
        pool.putconn(conn)


def tenant_of(authorization):
    if not authorization or not authorization.startswith("Bearer "):
        raise HTTPException(401, "a valid API key is required")
    key = authorization[7:]
    parts = key.split("_")
    if len(parts) != 3 or parts[0] != "wk":
        raise HTTPException(401, "a valid API key is required")
    row = query("SELECT key_sha256, tenant, revoked_at IS NOT NULL FROM api_credentials WHERE prefix = %s",
                (parts[1],))
    if not row or row[2] or not hmac.compare_digest(bytes(row[0]), hashlib.sha256(key.encode()).digest()):
        raise HTTPException(401, "a valid API key is required")
    return row[1]


COLUMNS = ["id", "queue", "status", "attempts", "max_attempts", "epoch", "error", "result", "progress", "api_key",
           "parent_id", "created_at", "updated_at", "started_at", "finished_at", "run_at"]


@app.get("/api/v1/jobs/{job_id}")
def get_job(job_id: str, authorization: str = Header(None)):
    tenant = tenant_of(authorization)
    row = query("SELECT id, queue, status, attempts, max_attempts, epoch, error, result, progress, api_key, parent_id, "
                "created_at::text, updated_at::text, started_at::text, finished_at::text, run_at::text "
                "FROM jobs WHERE id = %s AND api_key = %s", (job_id, tenant))
    if not row:
        raise HTTPException(404, "no such job")
    return dict(zip(COLUMNS, row))


@app.get("/api/v1/jobs/{job_id}/download/{file_type}")
def download(job_id: str, file_type: str, authorization: str = Header(None)):
    tenant = tenant_of(authorization)
    row = query("SELECT status, result FROM jobs WHERE id = %s AND api_key = %s", (job_id, tenant))
    if not row:
        raise HTTPException(404, "no such job")
    if row[0] != "succeeded":
        raise HTTPException(400, "not completed")
    artifact = (row[1] or {}).get("artifacts", {}).get(file_type)
    if not artifact:
        raise HTTPException(404, "no such file")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "media", "Key": artifact["key"]}, ExpiresIn=3600)
    return {"id": job_id, "file_type": file_type, "url": url, "expires_in": 3600,
            "size": artifact.get("size"), "sha256": artifact.get("sha256")}

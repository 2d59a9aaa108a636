"""S3 as eksboot's shared state meets it: conditional writes that are atomic, and SSE-KMS that
asks KMS.

moto 5.2.5 honours `If-None-Match: *` and `If-Match` on PutObject (PreconditionFailed, HTTP 412)
but checks and writes in two steps, so two requests at once can both pass the check. S3 makes
them atomic: "If multiple conditional writes occur for the same object name, the first write
operation to finish succeeds. Amazon S3 then fails subsequent writes with a 412 Precondition
Failed response" (https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html),
and a write racing another conditional write of the key may get 409 ConditionalRequestConflict.
Here every PutObject and DeleteObject runs under one lock: the check and the write become one
step, as on S3, so two runs taking one lock at once cannot both get it.

GetBucketVersioning answers as S3 documents it, `<VersioningConfiguration>` with `<Status>` when
versioning was ever set (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketVersioning.html):
moto 5.2.5 names the root element `GetBucketVersioningResponse`, which SDKs that check the root
(the Rust SDK does) cannot read.

SSE-KMS (issue 27: eksboot encrypts its state and lock objects under a key the user names).
moto 5.2.5 stores the `x-amz-server-side-encryption-aws-kms-key-id` header without asking KMS.
S3 asks KMS for a data key at every SSE-KMS upload and to decrypt it at every download
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html), so here:

* a PutObject encrypting under a key that moto's KMS does not hold (in the account and Region
  its ARN names, or the bucket's for a bare key id or alias) answers HTTP 400
  `KMS.NotFoundException`, "Key 'ARN' does not exist", as S3 does (reported in
  https://github.com/aws/aws-cli/issues/1517 and https://github.com/minio/minio/issues/6582);
* a key in another Region than the bucket is refused: "the KMS key must be in the same Region
  as the bucket" (UsingKMSEncryption.html). AWS documents no error for it; S3 asks KMS in the
  bucket's Region, and KMS answers an ARN of another Region with NotFoundException
  "Invalid arn REGION" (https://github.com/kubernetes-retired/kube-aws/issues/1041): HTTP 400
  `KMS.NotFoundException`;
* a disabled key: `KMS.DisabledException`; a key pending deletion (or in another state
  that cannot encrypt): `KMS.KMSInvalidStateException`, both HTTP 400, as KMS's key-state table
  answers GenerateDataKey and Decrypt (https://docs.aws.amazon.com/kms/latest/developerguide/key-state.html)
  and S3 passes it on prefixed with `KMS.` (https://github.com/localstack/localstack/issues/8422);
* a key S3 cannot encrypt with: "Amazon S3 supports only symmetric encryption KMS keys"
  (UsingKMSEncryption.html); KMS answers GenerateDataKey on any other key with
  InvalidKeyUsageException: HTTP 400 `KMS.InvalidKeyUsageException`;
* a key id header without `x-amz-server-side-encryption: aws:kms` answers HTTP 400
  InvalidArgument (https://github.com/aws/aws-cli/issues/1431);
* GetObject of an object stored under SSE-KMS fails the same way once its key is disabled,
  pending deletion or gone (reported: "KMS.KMSInvalidStateException ... is pending deletion" at
  GetObject, "KMS.DisabledException ... is disabled"), since S3 must decrypt the object's data
  key; HeadObject returns metadata without decrypting and is left alone;
* the object keeps, and GetObject/HeadObject return, the key's ARN in
  `x-amz-server-side-encryption-aws-kms-key-id` whichever form (id, alias) the upload named it
  by, as S3 does (https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html, "the ID
  (Key ID, Key ARN, or Key Alias)" in; `SSEKMSKeyId`, "the ID of the KMS key", out).

`x-amz-server-side-encryption: aws:kms` without a key id (or a bucket default without one) uses
the AWS managed key aws/s3, which S3 creates itself: nothing is checked for it.
The bucket's default encryption applies when the request names none, as moto applies it.
Multipart uploads and CopyObject are not covered (eksboot makes neither).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

_lock = threading.Lock()

SSE_KMS_ALGORITHMS = ("aws:kms", "aws:kms:dsse")
HEADER_SSE = "x-amz-server-side-encryption"
HEADER_SSE_KEY = "x-amz-server-side-encryption-aws-kms-key-id"
HEADER_BUCKET_KEY = "x-amz-server-side-encryption-bucket-key-enabled"
DOC_SSE_KMS = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html"


# --------------------------------------------------------------------------
# SSE-KMS: which key an upload or an object uses, and whether KMS can use it.


@dataclass
class SseKms:
    """The SSE-KMS of one upload or stored object."""

    key_id: str | None  # as named (id, ARN, alias); None: the AWS managed key aws/s3
    bucket_key: bool  # an S3 Bucket Key: KMS sees the bucket's ARN as the encryption context


def _true(value) -> bool:
    return str(value).lower() == "true"


def sse_kms_of_put(headers, bucket) -> SseKms | None:
    """The SSE-KMS a PutObject asks for: its headers, else the bucket's default encryption
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-encryption.html). None when
    the object is not encrypted with SSE-KMS."""
    algorithm = headers.get(HEADER_SSE)
    key_id = headers.get(HEADER_SSE_KEY)
    bucket_key = headers.get(HEADER_BUCKET_KEY)
    if not algorithm:
        rule = ((bucket.encryption if bucket is not None else None) or {}).get("Rule") or {}
        default = rule.get("ApplyServerSideEncryptionByDefault") or {}
        algorithm = default.get("SSEAlgorithm")
        key_id = key_id or default.get("KMSMasterKeyID")
        if bucket_key is None:
            bucket_key = rule.get("BucketKeyEnabled")
    if algorithm not in SSE_KMS_ALGORITHMS:
        return None
    return SseKms(key_id=key_id or None, bucket_key=_true(bucket_key))


def sse_kms_of_object(obj) -> SseKms | None:
    """The SSE-KMS a stored object (moto's FakeKey) was written with, or None."""
    if obj is None or getattr(obj, "encryption", None) not in SSE_KMS_ALGORITHMS:
        return None
    return SseKms(key_id=obj.kms_key_id or None, bucket_key=_true(obj.bucket_key_enabled))


def encryption_context_arn(partition: str, bucket: str, key: str, sse: SseKms) -> str:
    """S3's encryption context `aws:s3:arn`: the object's ARN, or the bucket's with an S3 Bucket
    Key (https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html#encryption-context)."""
    if sse.bucket_key:
        return f"arn:{partition}:s3:::{bucket}"
    return f"arn:{partition}:s3:::{bucket}/{key}"


@dataclass
class KmsKeyLookup:
    """What KMS answers S3 about a key: the key's ARN, moto's key (None when KMS has none
    usable in the bucket's Region), and the S3 error code and message when S3 must refuse."""

    arn: str
    key: object | None
    error: tuple[str, str] | None


def kms_backend(account: str, region: str):
    from moto.kms.models import kms_backends

    try:
        return kms_backends[account][region]
    except KeyError:  # a Region moto does not know
        return None


def lookup_kms_key(key_id: str, account: str, bucket_region: str, partition: str) -> KmsKeyLookup:
    """The key `key_id` names, found as S3 finds it: in the account and Region of its ARN, a
    bare id or alias in the bucket's account and Region (the PutObject reference: "If the KMS
    key doesn't exist in the same account that's issuing the command, you must use the full Key
    ARN"); refused when it is in another Region than the bucket (DOC_SSE_KMS)."""
    region, owner = bucket_region, account
    if key_id.startswith("arn:"):
        parts = key_id.split(":", 5)
        if len(parts) == 6:
            region, owner = parts[3] or bucket_region, parts[4] or account
    if key_id.startswith("arn:") and ":key/" in key_id:
        arn = key_id
    else:
        arn = f"arn:{partition}:kms:{region}:{owner}:key/{key_id.rsplit('/', 1)[-1]}"
    if region != bucket_region:
        return KmsKeyLookup(arn, None, ("KMS.NotFoundException", f"Invalid arn {region}"))
    backend = kms_backend(owner, region)
    key = None
    if backend is not None:
        try:
            key = backend.keys.get(backend.any_id_to_key_id(key_id))
        except Exception:  # noqa: BLE001 - an alias that names no key
            key = None
    if key is None:
        return KmsKeyLookup(arn, None, ("KMS.NotFoundException", f"Key '{arn}' does not exist"))
    return KmsKeyLookup(key.arn, key, _unusable(key))


def _unusable(key) -> tuple[str, str] | None:
    """Why KMS refuses GenerateDataKey/Decrypt with `key`, as its key-state table answers
    (https://docs.aws.amazon.com/kms/latest/developerguide/key-state.html), or None."""
    state = getattr(key, "key_state", "Enabled")
    if state == "Disabled":
        return "KMS.DisabledException", f"{key.arn} is disabled."
    if state == "PendingDeletion":
        return "KMS.KMSInvalidStateException", f"{key.arn} is pending deletion."
    if state != "Enabled":
        return "KMS.KMSInvalidStateException", f"{key.arn} is {state}."
    usage = key.key_usage or "ENCRYPT_DECRYPT"  # moto leaves the default unset
    if usage != "ENCRYPT_DECRYPT" or (key.key_spec or "SYMMETRIC_DEFAULT") != "SYMMETRIC_DEFAULT":
        return (
            "KMS.InvalidKeyUsageException",
            f"{key.arn} key usage is {usage} ({key.key_spec}): Amazon S3 supports only "
            "symmetric encryption KMS keys",
        )
    return None


def _refuse(code: str, message: str):
    from moto.s3.exceptions import S3ClientError

    # Every refusal here is a client error S3 answers with HTTP 400 (moto's default for them).
    return S3ClientError(code, message)


def _check_put_key(response) -> KmsKeyLookup | None:
    """Refuse an upload whose SSE-KMS key KMS cannot use (the module doc); the key found."""
    try:
        bucket = response.backend.get_bucket(response.bucket_name)
    except Exception:  # noqa: BLE001 - no such bucket: moto answers NoSuchBucket itself
        return None
    headers = response.headers
    if headers.get(HEADER_SSE_KEY) and headers.get(HEADER_SSE) not in SSE_KMS_ALGORITHMS:
        raise _refuse(
            "InvalidArgument",
            "Server Side Encryption with AWS KMS managed key requires HTTP header "
            "x-amz-server-side-encryption : aws:kms",
        )
    sse = sse_kms_of_put(headers, bucket)
    if sse is None or sse.key_id is None:
        return None
    found = lookup_kms_key(sse.key_id, response.current_account, bucket.region_name, bucket.partition)
    if found.error:
        raise _refuse(*found.error)
    return found


def _check_stored_key(response, obj) -> None:
    """Refuse a download S3 could not decrypt: the object's key is gone, disabled or pending
    deletion (the module doc)."""
    sse = sse_kms_of_object(obj)
    if sse is None or sse.key_id is None:
        return
    bucket = response.backend.get_bucket(response.bucket_name)
    found = lookup_kms_key(sse.key_id, response.current_account, bucket.region_name, bucket.partition)
    if found.error:
        raise _refuse(*found.error)


def _keep_key_arn(response, result, found: KmsKeyLookup):
    """Store and answer the key's ARN, whatever form the upload named the key by."""
    status, headers, body = result
    if status != 200:
        return result
    obj = response.backend.get_object(response.bucket_name, response.parse_key_name())
    if obj is not None and obj.kms_key_id and obj.kms_key_id != found.arn:
        obj.kms_key_id = found.arn
    if HEADER_SSE_KEY in headers:
        headers[HEADER_SSE_KEY] = found.arn
    return status, headers, body


# --------------------------------------------------------------------------
# Installation.


def install():
    from moto.s3.responses import S3Response

    if getattr(S3Response, "_eksboot_atomic", False):
        return
    original_put = S3Response.put_object
    original_delete = S3Response.delete_object
    original_get = S3Response.get_object

    def put_object(self):
        with _lock:
            found = _check_put_key(self)
            result = original_put(self)
            return _keep_key_arn(self, result, found) if found is not None else result

    def delete_object(self):
        with _lock:
            return original_delete(self)

    def get_object(self):
        obj, not_modified = self._get_key()
        if not not_modified:
            _check_stored_key(self, obj)
        return original_get(self)

    def get_bucket_versioning(self):
        status = self.backend.get_bucket_versioning(self.bucket_name)
        self.data["Action"] = "GetBucketVersioning"
        inner = f"<Status>{status}</Status>" if status else ""
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            f"{inner}</VersioningConfiguration>"
        )
        return 200, {"Content-Type": "application/xml"}, body

    S3Response.get_bucket_versioning = get_bucket_versioning
    S3Response.put_object = put_object
    S3Response.delete_object = delete_object
    S3Response.get_object = get_object
    S3Response._eksboot_atomic = True

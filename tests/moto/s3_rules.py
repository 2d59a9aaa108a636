"""S3 as eksboot's shared state meets it: conditional writes that are atomic.

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
"""

import threading

_lock = threading.Lock()


def install():
    from moto.s3.responses import S3Response

    if getattr(S3Response, "_eksboot_atomic", False):
        return
    original_put = S3Response.put_object
    original_delete = S3Response.delete_object

    def put_object(self):
        with _lock:
            return original_put(self)

    def delete_object(self):
        with _lock:
            return original_delete(self)

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
    S3Response._eksboot_atomic = True

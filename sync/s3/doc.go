// Package s3 keeps an OCI layout in an S3 bucket, under a prefix, with the
// keys a layout directory has as paths (PREFIX/oci-layout,
// PREFIX/index.json, PREFIX/blobs/<alg>/<hex>), so the same objects are at
// once a ferry store and a static web route: anyone allowed to GET them
// reads a plain OCI layout over HTTP.
//
// What a reader may see is the point of the design. A blob's key is its
// digest, so an object there must never hold other bytes: a whole PUT
// carries the digest as the signed payload hash and as
// x-amz-checksum-sha256, which the server checks before the object
// exists, and a multipart upload is completed only after ferry's own
// verifier read every byte. index.json is written last, after every blob
// it names, so a reader never sees a name whose content is absent.
package s3

// Package web reads an OCI layout published on a plain web server (nginx,
// Apache, an S3 bucket's HTTP endpoint, anything that answers GET with a
// file): a layout directory ferry wrote, or an exported archive unpacked. There is no API to ask:
// oci-layout and index.json are fetched and strictly decoded with
// package layout's own decoders, then blobs by digest at
// blobs/<alg>/<hex>. A server cannot be trusted to list or describe
// anything, so every blob is verified as it streams, exactly as from a
// registry, through the registry client of sync/remote (TLS, credentials,
// retries, Range resumes, redirects that never carry credentials).
package web

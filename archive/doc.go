// Package archive reads and writes image archives: ferry's own tar, which
// is at once an OCI layout and a docker-save archive, and every shape that
// docker, podman, skopeo, crane, regctl, oras and containerd write.
//
// An uncompressed tar on disk is read in place through an index of entry
// offsets; compressed input and stdin are read in one streaming pass. Either
// way the result is a layout.FS, so the same verifying code serves every
// format. It is the only package of the binary that imports
// klauspost/compress.
package archive

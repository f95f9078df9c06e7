// Package interop proves, with the real engines, that ferry's archives
// load everywhere and that everything the engines write imports into
// ferry. It holds only tests, behind the build tag "interop":
//
//	make interop        # installs the engines if needed, then runs the suite
//	go test -tags interop -v ./internal/interop
//
// The suite drives docker (dockerd + the docker client), podman, containerd
// (ctr) and skopeo in every version listed in variants_test.go: Debian 12's
// (docker 20.10, podman 4.3, containerd 1.6, skopeo 1.9, installed by
// scripts/interop-deps.sh) and the current ones under bin/engines
// (docker 28 and 29 with the containerd image store and containerd 2.4,
// built from source; Debian 13's docker 26, containerd 1.7, podman 5.4 and
// skopeo 1.18, unpacked from their packages; scripts/engines.sh installs
// them, $FERRY_INTEROP_ENGINES points elsewhere). Each version is a column
// of the load matrix and writes its own rows of the save matrix. ferry
// runs only through its CLI ($FERRY, or built from ./cmd/ferry once). Nothing comes from the internet: the test images
// are ferry's own generated fixtures (internal/fixtures), the only registry
// is the reference registry on 127.0.0.1 (internal/regtest), and the
// daemons are private, started on first use:
//
//   - each containerd with its own config, root, state and socket, and each
//     dockerd with its own data root, exec root, socket and the containerd
//     of its generation (20.10 on 1.6, 26 on 1.7, 28 and 29 on 2.4), both
//     in a mount namespace of their own, as the leaders of their own process
//     group and with a parent-death signal, so nothing survives the test
//     binary, even when it is killed;
//   - podman and skopeo need no daemon; they get private storage, config
//     and temp directories, and run in a mount namespace where their
//     blob-info cache is a private directory too.
//
// All state lives under one temporary directory, removed at the end
// (FERRY_INTEROP_KEEP=1 keeps it for debugging).
//
// Two matrices come out of it, printed at the end and written as Markdown
// to $FERRY_INTEROP_TABLE when set:
//
//   - load: for each shape of entry in a ferry archive (two tags of one
//     image, OCI index, Docker manifest list, schema2 image, converted
//     docker-save image, name by digest, unnamed artifact; archives of one
//     entry and of one image under two tags) and each export format
//     (--format both, oci, docker), what docker load, podman load, ctr
//     images import and skopeo copy make of it: names, image IDs against
//     config digests, manifest and index digests, platforms;
//   - save: for each thing an engine writes (docker save, podman save in
//     its formats, ctr images export, skopeo copy to oci:, oci-archive:
//     and docker-archive:), whether ferry imports, verifies and lists it
//     with the names the tool gave, pushes it to the registry, and whether
//     ferry, docker, podman and skopeo pull it back with the digests
//     unchanged (for docker-save input: the digests of ferry's conversion).
//
// Every cell is a case with an expected outcome. Where a tool is known not
// to handle a shape, the case is an expected limitation with a one-line
// reason, asserted as such: if the tool starts to handle it, or fails in a
// different way, the suite fails so that the table gets updated.
package interop

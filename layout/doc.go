// Package layout owns ferry's content model: the descriptor-keyed Store
// through which every byte flows, the OCI image-layout directory, image
// names as they are carried in index.json, the verifying reader and the
// graph walk and copy that every command builds on.
//
// It depends only on the standard library, image-spec, go-digest,
// distribution/reference and x/sync, so that the archive, verify and sync
// packages can share it without depending on each other.
package layout

import (
	// go-digest v1.0.0 does not register hash implementations itself:
	// without these imports every digest would be "unsupported".
	_ "crypto/sha256"
	_ "crypto/sha512"
)

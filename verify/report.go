package verify

// Report is the outcome of a verification, shaped for `ferry verify --json`
// as much as for people: scripts read OK and Problems, auditors read the
// per-image lines.
type Report struct {
	Path     string        `json:"path"`
	Format   string        `json:"format,omitempty"`
	Mode     string        `json:"mode,omitempty"`
	OK       bool          `json:"ok"`
	Images   []ImageReport `json:"images"`
	Totals   Totals        `json:"totals"`
	Problems []Problem     `json:"problems"`
	Warnings []Problem     `json:"warnings"`
	Notes    []string      `json:"notes,omitempty"`
	// Delta is set for a delta archive: each blob it left out by design.
	Delta *DeltaReport `json:"delta,omitempty"`
}

// ImageReport is one index.json entry.
type ImageReport struct {
	Name      string   `json:"name"`
	NameFrom  string   `json:"nameFrom"`
	Digest    string   `json:"digest"`
	MediaType string   `json:"mediaType"`
	Platforms []string `json:"platforms"`
	// Incomplete lists platforms of a sparse index whose content is absent.
	Incomplete []string `json:"incomplete,omitempty"`
	Size       int64    `json:"size"`
	// Status is "ok", "sparse" (some platforms absent, the rest sound) or
	// "bad".
	Status string `json:"status"`
}

// Totals sum up the run.
type Totals struct {
	Images       int   `json:"images"`
	Blobs        int   `json:"blobs"`
	Bytes        int64 `json:"bytes"`
	Unreferenced int   `json:"unreferenced"`
	Problems     int   `json:"problems"`
	Warnings     int   `json:"warnings"`
}

// Problem is one finding. Kind is stable for scripts; Message is for people
// and names the file, the image and the digests involved.
type Problem struct {
	Kind    string `json:"kind"`
	Image   string `json:"image,omitempty"`
	Digest  string `json:"digest,omitempty"`
	File    string `json:"file,omitempty"`
	Message string `json:"message"`
}

// Problem kinds.
const (
	KindOpen         = "unreadable"      // the input could not be opened as a layout or archive
	KindMismatch     = "digest-mismatch" // content does not hash to its digest
	KindSize         = "size-mismatch"   // content length differs from its descriptor
	KindMissing      = "missing"         // a referenced blob is absent
	KindInvalid      = "invalid"         // a document breaks the OCI rules
	KindUnsafe       = "unsafe"          // links, traversal, duplicate entries
	KindUnsupported  = "unsupported"     // a digest algorithm ferry cannot check
	KindName         = "name"            // a name that cannot be used, or one given to several images
	KindSparse       = "sparse"          // platforms of an index absent (warning)
	KindSubject      = "subject"         // a referrer whose subject is absent (warning)
	KindUnreferenced = "unreferenced"    // a blob nothing refers to (warning)
)
